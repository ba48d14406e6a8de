from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stellwerk.identity.auth import (
    Authenticator,
    AuthSubject,
    RuntimeDep,
    client_ip,
    require_system_api_key,
)

LicensesReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:licenses"))]
LicensesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:licenses"))]
ReleasesReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:releases"))]
ReleasesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:releases"))]


# Set by the fast path (`license.fastpath`) on a request it counted before handing it on.
RATE_COUNTED = "stellwerk.license.rate_counted"


async def limit_license_client(request: Request, runtime: RuntimeDep) -> None:
    """100 requests a minute per client address (configurable), counted before the key check."""
    if request.scope.get(RATE_COUNTED):
        return
    await runtime.limiter.hit(
        runtime.settings.license_rate_limit, "license-api", client_ip(request) or "unknown"
    )


# License clients: rate limit first, then the system API key.
LICENSE_CLIENT = [Depends(limit_license_client), Depends(require_system_api_key)]
