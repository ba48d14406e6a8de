from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

CustomersReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:customers"))]
CustomersWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:customers"))]
