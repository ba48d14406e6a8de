"""The authorization matrix, generated from the app's route table and the role table.

Every route × {anonymous, wrong token, license API key, token without the scope, token with the
scope, customer, staff, admin} gets the status its rule promises: a role passes when its scopes
(`ROLE_SCOPES`) grant the route's scope and it is at least the route's minimum role. Pages are
tried with each role's browser session. A route whose rule cannot be read from its dependencies
(and that is not declared public below) fails: every route needs a rule.

Ownership between customers (another customer's object is 404) is tested in test_ownership.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import SESSION_COOKIE, Authenticator, require_system_api_key
from stellwerk.identity.role import ROLE_SCOPES, Role, role_at_least
from stellwerk.identity.scope import ADMIN, ALL_SCOPES
from stellwerk.models import User
from stellwerk.runtime import Runtime
from stellwerk.web.auth import WebAccess, web_admin, web_user
from tests.factories import (
    bearer,
    create_admin,
    create_api_key,
    create_staff,
    create_token,
    create_user,
    jwt_for,
)
from tests.routes import RouteInfo, all_routes

# Routes anyone may call, by method and path template.
PUBLIC: set[tuple[str, str]] = {
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/status"),
    ("GET", "/metrics"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/oauth2-redirect"),
    ("GET", "/api/redoc"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/version"),
    # Caddy asks before it gets a certificate; it learns only yes or no.
    ("GET", "/api/redirect/tls-ask"),
}


# Endpoints that stream until the client leaves (server-sent events).
STREAMS: set[tuple[str, str]] = {("GET", "/modules/events")}


@dataclass(frozen=True)
class Rule:
    kind: str  # public | scope | any | login | api_key | web
    scope: str | None = None
    min_role: Role | None = None  # the credential must also belong to this role or higher

    def allows(self, role: Role) -> bool:
        """Whether a person of `role` (with a credential holding all their scopes) passes."""
        held = ROLE_SCOPES[role]
        if self.scope is not None and self.scope not in held and ADMIN not in held:
            return False
        return self.min_role is None or role_at_least(role, self.min_role)


def _rule_of_call(call: object) -> Rule | None:
    if isinstance(call, Authenticator):
        if call.login_only:
            return Rule("login", call.scope)
        if call.scope:
            return Rule("scope", call.scope, min_role=call.min_role)
        return Rule("any")
    if call is require_system_api_key:
        return Rule("api_key")
    if isinstance(call, WebAccess):
        return Rule("web", call.scope, min_role=call.min_role)
    if call is web_admin:
        return Rule("web", ADMIN)
    if call is web_user:
        return Rule("web")
    return None


def rule_of(route: RouteInfo) -> Rule | None:
    if (route.method, route.path) in PUBLIC:
        return Rule("public")

    def walk(dependant: Dependant) -> Rule | None:
        found = _rule_of_call(dependant.call)
        if found is not None:
            return found
        for sub in dependant.dependencies:
            found = walk(sub)
            if found is not None:
                return found
        return None

    for call in route.extra:
        found = _rule_of_call(call)
        if found is not None:
            return found
    return walk(route.dependant)


def _routes() -> list[RouteInfo]:
    app = create_app(Settings(_env_file=None, workers=False))  # type: ignore[call-arg]
    return all_routes(app)


ROUTES = _routes()


def _example_path(path: str) -> str:
    """Fill path parameters with values that parse (and most likely find nothing)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name.endswith("operation_id") or name in ("uuid",) or "uuid" in name:
            return str(uuid.UUID(int=1))
        if name.endswith("_id") or name == "id":
            return "987654"
        return "example"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_route_has_an_explicit_rule() -> None:
    missing = [r.id for r in ROUTES if rule_of(r) is None]
    assert not missing, f"routes without an auth rule: {missing}"


ROLES = (Role.CUSTOMER, Role.STAFF, Role.ADMIN)


@dataclass
class Credentials:
    wrong_token: dict[str, str]
    without_scope: dict[str, str]
    with_scope: dict[str, str]
    api_key: dict[str, str]
    jwt: dict[Role, dict[str, str]]
    users: dict[Role, User]


async def _credentials(runtime: Runtime, scope: str | None) -> Credentials:
    admin = await create_admin(runtime)
    users = {Role.CUSTOMER: await create_user(runtime), Role.STAFF: await create_staff(runtime)}
    users[Role.ADMIN] = admin
    other_scope = "read:hits" if scope != "read:hits" else "read:domains"
    granted = scope if scope in ALL_SCOPES else other_scope
    return Credentials(
        wrong_token=bearer("nrx_" + "f" * 64),
        without_scope=bearer(await create_token(runtime, admin, [other_scope])),
        with_scope=bearer(await create_token(runtime, admin, [granted])),
        api_key={"X-API-Key": await create_api_key(runtime)},
        jwt={role: bearer(jwt_for(runtime, user)) for role, user in users.items()},
        users=users,
    )


async def _browser_session(runtime: Runtime, user: User) -> tuple[str, str]:
    """A web session for `user` (cookie, CSRF token), as a login through the form makes one."""
    async with runtime.database.session() as session:
        cookie, web_session = await identity_service.web_session.create(
            session, user, ip="127.0.0.1", expires_in=600
        )
        return cookie, web_session.csrf_token


def _passed(status: int) -> bool:
    return status not in (401, 403, 303) and status < 500


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
async def test_route_answers_each_credential_as_its_rule_says(
    route: RouteInfo, client: httpx.AsyncClient, runtime: Runtime, app: FastAPI
) -> None:
    rule = rule_of(route)
    assert rule is not None
    method = route.method
    path = _example_path(route.path)
    creds = await _credentials(runtime, rule.scope)

    async def call(headers: dict[str, str] | None, cookie: tuple[str, str] | None = None) -> int:
        """The status; a page's redirect after a form counts as 200, one to the login as 303."""
        headers = dict(headers or {})
        cookies = None
        if cookie is not None:
            cookies = {SESSION_COOKIE: cookie[0]}
            headers["X-CSRF-Token"] = cookie[1]
        client.cookies.clear()
        request = client.request(
            method,
            path,
            headers=headers,
            cookies=cookies,
            follow_redirects=False,
            **_body(method),
        )
        if (method, route.path) in STREAMS:
            # A refused credential answers at once; an accepted one starts a stream that stays open.
            try:
                response = await asyncio.wait_for(request, timeout=1.5)
            except TimeoutError:
                return 200
        else:
            response = await request
        assert response.status_code < 500, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        if cookie is not None and response.status_code == 303:
            to_login = response.headers["location"].startswith("/login")
            return 303 if to_login and route.path != "/logout" else 200
        return response.status_code

    anonymous = await call(None)
    if rule.kind == "public":
        assert anonymous not in (401, 403), anonymous
        return
    if rule.kind == "web":
        assert anonymous == 303
        assert await call(creds.jwt[Role.ADMIN]) == 303  # pages need the browser session
        for role in ROLES:
            status = await call(None, await _browser_session(runtime, creds.users[role]))
            if rule.allows(role):
                assert _passed(status), f"{role}: {status}"
            else:
                assert status == 403, f"{role}: {status}"
        return
    if rule.kind == "api_key":
        assert anonymous == 401
        assert await call({"X-API-Key": "AF-2026-" + "x" * 32}) == 401
        assert await call(creds.jwt[Role.ADMIN]) == 401
        assert _passed(await call(creds.api_key))
        return
    assert anonymous == 401
    assert await call(creds.wrong_token) == 401
    assert await call(creds.api_key) == 401
    assert _passed(await call(creds.jwt[Role.ADMIN]))
    if rule.kind == "any":
        assert _passed(await call(creds.without_scope))
        for role in ROLES:
            assert _passed(await call(creds.jwt[role]))
        return
    if rule.kind == "login":
        assert await call(creds.with_scope) == 403
        for role in ROLES:
            assert _passed(await call(creds.jwt[role]))
        return
    assert rule.scope is not None
    assert await call(creds.without_scope) == 403
    assert _passed(await call(creds.with_scope))
    for role in ROLES:
        status = await call(creds.jwt[role])
        if rule.allows(role):
            assert _passed(status), f"{role}: {status}"
        else:
            assert status == 403, f"{role}: {status}"


def test_role_scopes_never_exceed_the_vocabulary() -> None:
    for role in ROLES:
        assert ROLE_SCOPES[role] <= ALL_SCOPES
    assert ROLE_SCOPES[Role.CUSTOMER] < ROLE_SCOPES[Role.STAFF] < ROLE_SCOPES[Role.ADMIN]


def _body(method: str) -> dict[str, Any]:
    return {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
