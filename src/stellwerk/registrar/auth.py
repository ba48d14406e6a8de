from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

DnsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:dns"))]
DnsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:dns"))]
