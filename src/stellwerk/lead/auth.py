from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.identity.auth import Authenticator, AuthSubject

LeadsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:leads"))]
LeadsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:leads"))]
