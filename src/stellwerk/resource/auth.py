from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

ResourcesReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:resources"))]
ResourcesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:resources"))]
