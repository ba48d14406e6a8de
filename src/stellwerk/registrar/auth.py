"""Who may use the registrar surface.

Reading (availability, domains, contacts) needs `read:dns`, contacts need `write:dns`: every user
holds both. Registering and transferring a domain charge or move it at the company's registrar
account, so they also need the credential to belong to an admin (an admin's login, or an admin's
token with `write:dns`); anyone else gets 403 `missing_scope` with `required: admin`, as on every
admin-only route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

DnsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:dns"))]
DnsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns"))]
DomainBuyer = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns", admin_owner=True))]

BUY_REFUSED = (
    "Only admins may register or transfer domains: it charges the company's registrar account. "
    "Ask an admin to do it."
)


def may_buy_domains(subject: AuthSubject) -> bool:
    """Whether `subject` may register or transfer domains (the rule `DomainBuyer` enforces)."""
    return subject.owner_is_admin and subject.has("write:dns")
