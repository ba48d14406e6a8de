"""Who may use projects: `read:projects`/`write:projects` on the projects the caller's role
reaches (see `ProjectRepository.readable`); buying for a project is for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stellwerk.exceptions import MissingScope
from stellwerk.identity.auth import Authenticator, AuthSubject
from stellwerk.identity.scope import ADMIN

ProjectsReader = Annotated[AuthSubject, Depends(Authenticator(scope="read:projects"))]
ProjectsWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:projects"))]


def check_purchases(
    subject: AuthSubject, *, register_domain: bool, create_server: bool, server_uuid: str | None
) -> None:
    """Registering the domain and creating a server charge the company's accounts: admins only
    (403 `missing_scope`, `required: admin`); choosing among the company's Coolify servers needs
    `read:providers` (staff and admins)."""
    if (register_domain or create_server) and not subject.owner_is_admin:
        raise MissingScope(ADMIN)
    if server_uuid is not None and not subject.has("read:providers"):
        raise MissingScope("read:providers")
