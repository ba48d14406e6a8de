from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

ProjectsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:projects"))]
ProjectsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:projects"))]
