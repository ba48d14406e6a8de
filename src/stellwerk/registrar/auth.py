"""Who may use the registrar surface.

Checking availability and reading domains need `read:dns` (a customer sees their own domains).
Registering and transferring a domain charge or move it at the company's registrar account, and
the contacts decide who legally holds the company's domains: all of that also needs the
credential to belong to an admin (an admin's login, or an admin's token with the scope); anyone
else gets 403 `missing_scope` with `required: admin`, as on every admin-only route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

DnsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:dns"))]
DnsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns"))]
DomainBuyer = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns", admin_owner=True))]
ContactReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:dns", admin_owner=True))]
ContactWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns", admin_owner=True))]

BUY_REFUSED = (
    "Only admins may register or transfer domains: it charges the company's registrar account. "
    "Ask an admin to do it."
)


def may_buy_domains(subject: AuthSubject) -> bool:
    """Whether `subject` may register or transfer domains (the rule `DomainBuyer` enforces)."""
    return subject.owner_is_admin and subject.has("write:dns")
