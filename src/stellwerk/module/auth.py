"""Who may use the module manager: tokens with read:modules / write:modules, or a login."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

ModulesReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:modules"))]
ModulesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:modules"))]
