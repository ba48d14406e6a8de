"""Who is calling: the authenticators every router depends on.

A route declares its rule with an `Authenticator` (scope, admin) in an `Annotated` alias; a route
without one is public by construction. Credentials, in the order they are looked at:
`Authorization: Bearer nrx_…` (API token), `Authorization: Bearer <jwt>` (login), and the web
session cookie (with a CSRF token on every unsafe request). License clients use `X-API-Key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from stellwerk.audit.actor import Actor
from stellwerk.database import SessionDep
from stellwerk.exceptions import (
    Forbidden,
    InvalidApiKey,
    MissingScope,
    RoleRequired,
    Unauthorized,
)
from stellwerk.identity import service as identity_service
from stellwerk.identity.principal import Principal
from stellwerk.identity.role import Role, is_admin_role, role_at_least, role_of, scopes_for_role
from stellwerk.identity.scope import ADMIN, grants
from stellwerk.kit.secret import tokens_equal
from stellwerk.models import User, WebSession
from stellwerk.runtime import Runtime

SESSION_COOKIE = "stellwerk_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document; the authenticator reads the headers itself.
bearer_scheme = HTTPBearer(auto_error=False, description="A login JWT or an `nrx_` API token")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The system API key (`AF-YYYY-…`)"
)


@dataclass(frozen=True)
class AuthSubject:
    user: User
    credential: str  # jwt | session | token
    scopes: frozenset[str]
    ip: str | None
    token_id: int | None = None
    web_session: WebSession | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    @property
    def owner_is_admin(self) -> bool:
        """Whether the person behind the credential is an admin now, whatever scopes the
        credential itself holds (an admin's token narrowed to `write:dns` still counts)."""
        return is_admin_role(self.user.role)

    @property
    def role(self) -> Role:
        return role_of(self.user.role)

    @property
    def principal(self) -> Principal:
        """Whose rows this caller reaches: decided by the person's role, not the credential's
        scopes (which only decide which routes it may call)."""
        return Principal(user_id=self.user.id, role=self.role)

    def has(self, scope: str) -> bool:
        return grants(self.scopes, scope)

    @property
    def actor(self) -> Actor:
        credential = f"token:{self.token_id}" if self.credential == "token" else self.credential
        return Actor(
            user_id=self.user.id, name=self.user.username, credential=credential, ip=self.ip
        )


@dataclass(frozen=True)
class Viewer:
    """Plain values about the caller, captured at authentication: pages render them even after
    the request's transaction has rolled back and its ORM objects have expired."""

    id: int
    username: str
    is_admin: bool
    csrf_token: str
    role: str = "customer"
    scopes: frozenset[str] = frozenset()

    def has(self, scope: str) -> bool:
        return grants(self.scopes, scope)

    @property
    def is_company(self) -> bool:
        """Staff or admin: pages show everyone's things to them."""
        return self.role in ("staff", "admin")


def runtime_of(request: HTTPConnection) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: HTTPConnection) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in a worker thread, on every request.
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_ip(request: HTTPConnection) -> str | None:
    return request.client.host if request.client else None


async def _from_bearer(
    session: AsyncSession, runtime: Runtime, value: str, ip: str | None
) -> AuthSubject:
    if value.startswith(identity_service.TOKEN_PREFIX):
        token = await identity_service.token.resolve(session, value)
        await runtime.limiter.hit(runtime.settings.token_rate_limit, "token", str(token.id))
        # A token never holds more than its owner does now (a demoted admin's tokens shrink).
        held = scopes_for_role(token.user.role)
        scopes = held if ADMIN in token.scopes and ADMIN in held else frozenset(token.scopes) & held
        return AuthSubject(
            user=token.user, credential="token", scopes=scopes, ip=ip, token_id=token.id
        )
    user = await identity_service.access_token.resolve(session, value, key=runtime.key_for("jwt"))
    return AuthSubject(user=user, credential="jwt", scopes=scopes_for_role(user.role), ip=ip)


async def _check_csrf(request: Request, web_session: WebSession) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FORM_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent or not tokens_equal(sent, web_session.csrf_token):
        raise Forbidden("The CSRF token is missing or wrong", code="csrf_failed")


async def resolve_credential(
    session: AsyncSession,
    runtime: Runtime,
    *,
    authorization: str | None,
    cookie: str | None,
    ip: str | None,
) -> AuthSubject | None:
    """Whose credential this is: an `Authorization` header value, else a session cookie; None
    when neither was sent. Bad credentials raise. (No CSRF check: see `authenticate`.)"""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Send `Authorization: Bearer <token>`", code="invalid_token")
        return await _from_bearer(session, runtime, value.strip(), ip)
    if cookie:
        resolved = await identity_service.web_session.resolve(session, cookie)
        if resolved is None:
            raise Unauthorized("Your session has ended; log in again", code="session_expired")
        web_session, user = resolved
        return AuthSubject(
            user=user,
            credential="session",
            scopes=scopes_for_role(user.role),
            ip=ip,
            web_session=web_session,
        )
    return None


async def authenticate(request: Request, session: SessionDep) -> AuthSubject | None:
    """The caller's identity, or None when no credential was sent. Bad credentials raise."""
    runtime = runtime_of(request)
    cached: AuthSubject | None = getattr(request.state, "auth_subject", None)
    if cached is not None:
        return cached
    subject = await resolve_credential(
        session,
        runtime,
        authorization=request.headers.get("authorization"),
        cookie=request.cookies.get(SESSION_COOKIE),
        ip=client_ip(request),
    )
    if subject is not None and subject.web_session is not None:
        await _check_csrf(request, subject.web_session)
    request.state.auth_subject = subject
    if subject is not None:
        request.state.viewer = Viewer(
            id=subject.user.id,
            username=subject.user.username,
            is_admin=subject.is_admin,
            csrf_token=subject.web_session.csrf_token if subject.web_session else "",
            role=subject.role.value,
            scopes=subject.scopes,
        )
    return subject


class Authenticator:
    """A route's auth rule: any credential (or only a login), holding `scope` (or `admin`) when
    one is named; with `min_role`, the credential must also belong to someone of that role or
    higher (`admin_owner` is `min_role=Role.ADMIN`)."""

    def __init__(
        self,
        *,
        scope: str | None = None,
        admin: bool = False,
        login_only: bool = False,
        admin_owner: bool = False,
        min_role: Role | None = None,
    ) -> None:
        self.scope = ADMIN if admin else scope
        self.admin = admin
        # For actions meant for people: a login (JWT or web session), never an API token.
        self.login_only = login_only
        # For actions that spend the company's money (buying a domain): only an admin's login or
        # an admin's token holding `scope`. Refused like any admin-only route: 403 missing_scope
        # with `required: admin`. For the company's own work (its DNS zones): staff or admins,
        # refused with 403 role_required.
        self.min_role = Role.ADMIN if admin_owner else min_role
        self.admin_owner = self.min_role is Role.ADMIN

    async def __call__(
        self,
        request: Request,
        session: SessionDep,
        _bearer: Annotated[object, Depends(bearer_scheme)] = None,
    ) -> AuthSubject:
        return self.check(await authenticate(request, session))

    def check(self, subject: AuthSubject | None) -> AuthSubject:
        """Apply the rule to a caller found some other way (a WebSocket's credential)."""
        if subject is None:
            raise Unauthorized()
        if self.login_only and subject.credential == "token":
            raise Forbidden("This needs a user login, not an API token", code="login_required")
        if self.min_role is not None and not role_at_least(subject.role, self.min_role):
            raise (
                MissingScope(ADMIN) if self.min_role is Role.ADMIN else RoleRequired(self.min_role)
            )
        if self.scope is not None and not subject.has(self.scope):
            raise MissingScope(self.scope)
        return subject


async def require_system_api_key(
    request: Request,
    session: SessionDep,
    _key: Annotated[str | None, Depends(api_key_scheme)] = None,
) -> None:
    """License clients: the active system API key in `X-API-Key`."""
    if not await identity_service.system_api_key.verify(session, request.headers.get("x-api-key")):
        raise InvalidApiKey()


Authenticated = Annotated[AuthSubject, Depends(Authenticator())]
AdminUser = Annotated[AuthSubject, Depends(Authenticator(admin=True))]
SystemApiKeyAuth = Depends(require_system_api_key)
