"""Who may call the redirect API: `nrx_` tokens (or a login) with the documented scopes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

ReadDomains = Annotated[AuthSubject, Depends(Authenticator(scope="read:domains"))]
WriteDomains = Annotated[AuthSubject, Depends(Authenticator(scope="write:domains"))]
ReadAnalytics = Annotated[AuthSubject, Depends(Authenticator(scope="read:analytics"))]
ReadHits = Annotated[AuthSubject, Depends(Authenticator(scope="read:hits"))]


# The verify endpoint is for people: a login (JWT or web session), not an API token.
LoggedIn = Annotated[AuthSubject, Depends(Authenticator(login_only=True))]


def owner_scope(subject: AuthSubject) -> int | None:
    """Whose domains the caller reaches (the owner every redirect query filters by): a
    customer's own, everyone's (None) for staff and admins."""
    return subject.principal.owner_filter
