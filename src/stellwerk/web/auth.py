"""Who may see a page. Without a session the browser is sent to the login page, not given JSON."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from stellwerk.database import SessionDep
from stellwerk.exceptions import Forbidden
from stellwerk.identity.auth import AuthSubject, authenticate
from stellwerk.identity.role import Role, role_at_least


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def web_user(request: Request, session: SessionDep) -> AuthSubject:
    subject = await authenticate(request, session)
    if subject is None or subject.credential != "session":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return subject


async def web_admin(subject: Annotated[AuthSubject, Depends(web_user)]) -> AuthSubject:
    if not subject.is_admin:
        raise Forbidden("This page is for admins", code="admin_only")
    return subject


class WebAccess:
    """A page's rule, the same as its API's `Authenticator`: a browser session whose role
    grants `scope`, and, with `min_role`, someone of that role or higher."""

    def __init__(
        self, *, scope: str, min_role: Role | None = None, refused: str | None = None
    ) -> None:
        self.scope = scope
        self.min_role = min_role
        self.refused = refused  # what the refusal page says, when the default is too vague

    async def __call__(self, subject: Annotated[AuthSubject, Depends(web_user)]) -> AuthSubject:
        if self.min_role is not None and not role_at_least(subject.role, self.min_role):
            who = "admins" if self.min_role is Role.ADMIN else "the company's staff"
            raise Forbidden(self.refused or f"This page is for {who}", code="role_required")
        if not subject.has(self.scope):
            raise Forbidden("Your account cannot use this page", code="missing_scope")
        return subject


WebUser = Annotated[AuthSubject, Depends(web_user)]
WebAdmin = Annotated[AuthSubject, Depends(web_admin)]


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"
