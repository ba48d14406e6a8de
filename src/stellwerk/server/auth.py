"""Who may use the servers surface: JWT users and tokens with `read:servers`/`write:servers`
on the servers their role reaches (see `InstanceRepository.readable`); `/api/admin/providers`
and `/api/admin/plans` need admin.

What the provider charges (base price, markup, provider prices and sizes without a plan) is
shown to credentials holding `read:providers` (staff and admins); ordering a size that no
active plan offers needs `write:providers` (admins); customers order within their quota.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.config import Settings
from stellwerk.identity.auth import AdminUser, Authenticator, AuthSubject
from stellwerk.identity.role import Role
from stellwerk.server.service import OrderRules

ServerReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:servers"))]
ServerWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:servers"))]


def sees_costs(subject: AuthSubject) -> bool:
    return subject.has("read:providers")


def order_rules(subject: AuthSubject, settings: Settings) -> OrderRules:
    quota = None
    if subject.role is Role.CUSTOMER:
        own = subject.user.server_quota
        quota = own if own is not None else settings.customer_server_quota
    return OrderRules(any_size=subject.has("write:providers"), quota=quota)


__all__ = ["AdminUser", "ServerReader", "ServerWriter", "order_rules", "sees_costs"]
