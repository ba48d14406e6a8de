"""Who may use the module manager.

Reading (repositories, catalog, instances, operations) needs `read:modules`; installing,
updating and removing modules needs `write:modules`. Changing where modules come from
(repositories, checksum pins) needs an admin credential: it decides what code runs on the host.
Module operations are shown as every operation is: to the company (staff and admins) all, to
others only their own.

Module frontends (`/{module_name}/…`, reverse-proxied to the instances) are the company's tools:
they open for `read:modules` (staff and admins; customers never), behind the same login as the
rest of Stellwerk. A browser without a session is sent to the login page. As module pages do not
know Stellwerk's CSRF token, an unsafe request made with the session cookie must come from a page
of Stellwerk's own origin (or an origin in `STELLWERK_CORS_ORIGINS`) instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from stellwerk.exceptions import Forbidden
from stellwerk.identity.auth import (
    SAFE_METHODS,
    SESSION_COOKIE,
    Authenticator,
    AuthSubject,
    bearer_scheme,
    client_ip,
    resolve_credential,
    runtime_of,
)
from stellwerk.kit.origin import origin_allowed
from stellwerk.web.auth import LoginRequired

modules_reader = Authenticator(scope="read:modules")

ModulesReader = Annotated[AuthSubject, Depends(modules_reader)]
ModulesWriter = Annotated[AuthSubject, Depends(Authenticator(scope="write:modules"))]
ModulesAdmin = Annotated[AuthSubject, Depends(Authenticator(admin=True))]


class FrontendAccess(Authenticator):
    """The rule of module frontends: `read:modules`, from a token or a session; a session's
    unsafe requests (and WebSockets) only from an allowed origin rather than with a CSRF
    token."""

    def __init__(self) -> None:
        super().__init__(scope="read:modules")

    async def authenticate(self, connection: HTTPConnection, session: AsyncSession) -> AuthSubject:
        runtime = runtime_of(connection)
        subject = await resolve_credential(
            session,
            runtime,
            authorization=connection.headers.get("authorization"),
            cookie=connection.cookies.get(SESSION_COOKIE),
            ip=client_ip(connection),
        )
        method = connection.scope.get("method", "GET")
        browser = "text/html" in connection.headers.get("accept", "")
        if subject is None and method in ("GET", "HEAD") and browser:
            query = connection.url.query
            raise LoginRequired(connection.url.path + (f"?{query}" if query else ""))
        if (
            subject is not None
            and subject.web_session is not None
            and (connection.scope["type"] == "websocket" or method not in SAFE_METHODS)
            and not origin_allowed(
                connection.headers.get("origin"),
                connection.headers.get("host"),
                runtime.settings.cors_origin_list,
            )
        ):
            raise Forbidden(
                "A module frontend takes this only from Stellwerk's own pages",
                code="origin_refused",
            )
        return self.check(subject)

    async def __call__(  # type: ignore[override] # no request-long session: see below
        self,
        request: Request,
        _bearer: Annotated[object, Depends(bearer_scheme)] = None,
    ) -> AuthSubject:
        # A session of its own, closed at once: the request then waits for the module (maybe
        # long) without holding a database connection.
        async with runtime_of(request).database.session() as session:
            return await self.authenticate(request, session)


frontend_access = FrontendAccess()
FrontendReader = Annotated[AuthSubject, Depends(frontend_access)]


def visible_owner(subject: AuthSubject) -> int | None:
    """Whose module operations the caller sees: None for everyone's (the company), else their
    own (the same rule as `OperationRepository.readable`)."""
    return subject.principal.owner_filter


def answerable_owner(subject: AuthSubject) -> int | None:
    """Whose waiting module operations the caller may answer: their own; every one for admins
    (the same rule as cancelling, `OperationRepository.cancellable`)."""
    return None if subject.principal.is_admin else subject.user.id
