"""Who may use the servers surface: JWT users and tokens with `read:servers`/`write:servers`;
`/api/admin/providers` and `/api/admin/plans` need admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import AdminUser, Authenticator, AuthSubject

ServerReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:servers"))]
ServerWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:servers"))]

__all__ = ["AdminUser", "ServerReader", "ServerWriter"]
