"""Whose rows a query may reach.

Every repository that holds owned rows scopes its queries through one statement built from a
`Principal` (in the spirit of `get_readable_statement(auth_subject)`): a customer reaches their
own rows, staff and admins what their role allows, the system (workflows, the operator's
command line) everything. Another owner's row is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellwerk.identity.role import Role, role_of


@dataclass(frozen=True)
class Principal:
    user_id: int | None  # None: the system itself
    role: Role

    @classmethod
    def system(cls) -> Principal:
        return cls(user_id=None, role=Role.ADMIN)

    @classmethod
    def of(cls, user_id: int, role: str) -> Principal:
        return cls(user_id=user_id, role=role_of(role))

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_company(self) -> bool:
        """Staff or admin: someone who works for the company (or the system)."""
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def owner_filter(self) -> int | None:
        """The owner id a query of owned rows filters by: None for the company (every row),
        the user's own id for a customer."""
        return None if self.is_company else self.user_id
