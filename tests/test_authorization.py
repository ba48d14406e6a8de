"""The authorization matrix, generated from the app's route table.

Every route × {anonymous, wrong token, token without the scope, token with the scope, non-admin
user, admin, license API key} gets the status its rule promises. A route whose rule cannot be read
from its dependencies (and that is not declared public below) fails: every route needs a rule.
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
from stellwerk.identity.auth import Authenticator, require_system_api_key
from stellwerk.identity.scope import ALL_SCOPES, USER_SCOPES
from stellwerk.runtime import Runtime
from stellwerk.web.auth import web_admin, web_user
from tests.factories import bearer, create_admin, create_api_key, create_token, create_user, jwt_for
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
    admin_owner: bool = False  # the credential must also belong to an admin


def _rule_of_call(call: object) -> Rule | None:
    if isinstance(call, Authenticator):
        if call.login_only:
            return Rule("login", call.scope)
        if call.scope:
            return Rule("scope", call.scope, admin_owner=call.admin_owner)
        return Rule("any")
    if call is require_system_api_key:
        return Rule("api_key")
    if call in (web_user, web_admin):
        return Rule("web", "admin" if call is web_admin else None)
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


@dataclass
class Credentials:
    wrong_token: dict[str, str]
    without_scope: dict[str, str]
    with_scope: dict[str, str]
    user: dict[str, str]
    admin: dict[str, str]
    api_key: dict[str, str]


async def _credentials(runtime: Runtime, scope: str | None) -> Credentials:
    admin = await create_admin(runtime)
    user = await create_user(runtime)
    other_scope = "read:hits" if scope != "read:hits" else "read:domains"
    granted = scope if scope in ALL_SCOPES else other_scope
    return Credentials(
        wrong_token=bearer("nrx_" + "f" * 64),
        without_scope=bearer(await create_token(runtime, admin, [other_scope])),
        with_scope=bearer(await create_token(runtime, admin, [granted])),
        user=bearer(jwt_for(runtime, user)),
        admin=bearer(jwt_for(runtime, admin)),
        api_key={"X-API-Key": await create_api_key(runtime)},
    )


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

    async def call(headers: dict[str, str] | None) -> int:
        request = client.request(
            method, path, headers=headers or {}, follow_redirects=False, **_body(method)
        )
        if (method, route.path) in STREAMS:
            # A refused credential answers at once; an accepted one starts a stream that stays open.
            try:
                response = await asyncio.wait_for(request, timeout=3)
            except TimeoutError:
                return 200
        else:
            response = await request
        assert response.status_code < 500, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.status_code

    anonymous = await call(None)
    if rule.kind == "public":
        assert anonymous not in (401, 403), anonymous
        return
    if rule.kind == "web":
        assert anonymous == 303
        assert await call(creds.admin) == 303  # pages need the browser session
        return
    if rule.kind == "api_key":
        assert anonymous == 401
        assert await call({"X-API-Key": "AF-2026-" + "x" * 32}) == 401
        assert await call(creds.admin) == 401
        assert _passed(await call(creds.api_key))
        return
    assert anonymous == 401
    assert await call(creds.wrong_token) == 401
    assert await call(creds.api_key) == 401
    assert _passed(await call(creds.admin))
    if rule.kind == "any":
        assert _passed(await call(creds.without_scope))
        assert _passed(await call(creds.user))
        return
    if rule.kind == "login":
        assert await call(creds.with_scope) == 403
        assert _passed(await call(creds.user))
        return
    assert rule.scope is not None
    assert await call(creds.without_scope) == 403
    assert _passed(await call(creds.with_scope))
    user_status = await call(creds.user)
    if rule.scope in USER_SCOPES and not rule.admin_owner:
        assert _passed(user_status)
    else:
        assert user_status == 403


def _body(method: str) -> dict[str, Any]:
    return {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
