"""Module frontends through Stellwerk: `/{module_name}/…` reaches the primary instance,
`/{module_name}/{instance_id}/…` any instance, as a reverse proxy (HTTP with streamed bodies,
and WebSocket upgrades) behind Stellwerk's login.

These routes come last and never take a path whose first segment is one of Stellwerk's own
(`/api`, `/modules`, `/ui`, …: `OWN_SEGMENTS`): a module with such a name has no frontend
URL. The instance sees the request from its own root, with `X-Forwarded-Prefix` (`/v2_dashboard`),
`X-Forwarded-Host`, `X-Forwarded-Proto`, `X-Forwarded-For` and `X-Forwarded-User` (who is
logged in); never Stellwerk's `Authorization`, session cookie or CSRF token.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from stellwerk.exceptions import NotFound, StellwerkError
from stellwerk.identity.auth import SESSION_COOKIE, AuthSubject, RuntimeDep, client_ip
from stellwerk.kit.proxy import (
    UpstreamUnreachable,
    forward_http,
    forward_websocket,
    request_headers,
)
from stellwerk.middleware import MODULE_FRONTEND
from stellwerk.module.auth import FrontendReader, frontend_access
from stellwerk.module.frontends import Frontend, FrontendUnavailable, module_frontend
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_body

# As Stellwerk's own routes: no HEAD (405).
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
INSTANCE_HEADER = b"x-module-instance"
# Stellwerk's credentials: the upstream never sees them.
DROPPED_HEADERS = ("authorization", "x-csrf-token", "x-forwarded-user")

_clients: dict[int, httpx.AsyncClient] = {}

# The first path segments of Stellwerk's own routes: never a module's frontend (a test checks
# that this names every one of them).
OWN_SEGMENTS = (
    "api",
    "customer",
    "health",
    "leads",
    "license",
    "login",
    "logout",
    "metrics",
    "modules",
    "repository",
    "static",
    "status",
    "ui",
    "ws",
)


class ModuleNameConvertor(Convertor[str]):
    """A module name that is not one of Stellwerk's own first path segments, so that these
    routes, which come last, never take a path of Stellwerk's (its 404s and 405s stay)."""

    regex = "(?!(?:" + "|".join(OWN_SEGMENTS) + ")(?![A-Za-z0-9_-]))[A-Za-z0-9_-]{1,64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("module", ModuleNameConvertor())


def _client() -> httpx.AsyncClient:
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None:
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=5.0, read=None, write=60.0, pool=10.0),
            follow_redirects=False,
            trust_env=False,  # the instances are ours: never through an outbound proxy
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        _clients[loop] = client
    return client


def _location(where: str, frontend: Frontend) -> Any:
    upstream = f"http://{where}"

    def rewrite(value: str) -> str:
        if value.startswith(upstream):
            value = value[len(upstream) :] or "/"
        if value.startswith("/") and not value.startswith("//"):
            return frontend.prefix + value[1:]
        return value

    return rewrite


def _forwarded(connection: Request | WebSocket, frontend: Frontend, subject: AuthSubject) -> Any:
    earlier = connection.headers.get("x-forwarded-for")
    peer = client_ip(connection) or ""
    return {
        "x-forwarded-for": f"{earlier}, {peer}" if earlier else peer,
        "x-forwarded-proto": connection.url.scheme.replace("ws", "http"),
        "x-forwarded-host": connection.headers.get("host", ""),
        "x-forwarded-prefix": frontend.prefix.rstrip("/"),
        "x-forwarded-user": subject.user.username,
    }


router = APIRouter(include_in_schema=False)


@router.api_route("/{module_name:module}", methods=METHODS)
async def frontend_root(
    module_name: str, request: Request, subject: FrontendReader, runtime: RuntimeDep
) -> Response:
    """`/v2_dashboard` is `/v2_dashboard/` (so that the page's relative links work)."""
    if request.method != "GET":
        raise NotFound(f"No module frontend at /{module_name[:64]}")
    async with runtime.database.session() as session:
        await module_frontend.find(session, module_name, "")
    query = request.url.query
    return RedirectResponse(f"/{module_name}/" + (f"?{query}" if query else ""), status_code=307)


@router.api_route("/{module_name:module}/{path:path}", methods=METHODS)
async def frontend(
    module_name: str,
    path: str,
    request: Request,
    subject: FrontendReader,
    runtime: RuntimeDep,
) -> Response:
    """An instance's frontend, proxied: the primary instance's, or the one the path names.
    No database connection is held while the module answers."""
    async with runtime.database.session() as session:
        found = await module_frontend.find(session, module_name, path)
    where = await module_frontend.address(runtime.settings, found)
    request.scope[MODULE_FRONTEND] = True
    query = request.url.query
    url = f"http://{where}/{found.path}" + (f"?{query}" if query else "")
    headers = request_headers(
        request.headers.items(),
        drop=DROPPED_HEADERS,
        drop_cookies=[SESSION_COOKIE],
        add=_forwarded(request, found, subject),
    )
    try:
        response = await forward_http(
            _client(),
            request,
            url,
            headers,
            drop_cookies=[SESSION_COOKIE],
            location=_location(where, found),
        )
    except UpstreamUnreachable as error:
        raise FrontendUnavailable(
            f"The frontend of {module_name} (instance {found.instance.id[:12]}) does not "
            f"answer: {error}",
            headers={"Retry-After": "5"},
        ) from error
    # Which instance answered (the primary moves): for people and scripts checking.
    response.raw_headers = [h for h in response.raw_headers if h[0] != INSTANCE_HEADER]
    response.raw_headers.append((INSTANCE_HEADER, found.instance.id.encode()))
    return response


async def _refuse(websocket: WebSocket, error: StellwerkError) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            JSONResponse(
                error_body(error, Surface.GENERIC), status_code=error.status, headers=error.headers
            )
        )
        return
    await websocket.close(code=1008, reason=error.code)


async def frontend_socket(websocket: WebSocket, module_name: str, path: str) -> None:
    """A WebSocket of an instance's frontend, carried through."""
    runtime: Runtime = websocket.app.state.runtime
    try:
        async with runtime.database.session() as session:
            subject = await frontend_access.authenticate(websocket, session)
            found = await module_frontend.find(session, module_name, path)
        where = await module_frontend.address(runtime.settings, found)
        query = websocket.url.query
        url = f"ws://{where}/{found.path}" + (f"?{query}" if query else "")
        offered = websocket.headers.get("sec-websocket-protocol", "")
        headers = request_headers(
            websocket.headers.items(),
            drop=DROPPED_HEADERS,
            drop_cookies=[SESSION_COOKIE],
            add=_forwarded(websocket, found, subject),
            websocket=True,
        )
        try:
            await forward_websocket(
                websocket, url, headers, [p.strip() for p in offered.split(",") if p.strip()]
            )
        except UpstreamUnreachable as error:
            raise FrontendUnavailable(
                f"The frontend of {module_name} does not take WebSockets here: {error}"
            ) from error
    except StellwerkError as error:
        await _refuse(websocket, error)


router.add_api_websocket_route(
    "/{module_name:module}/{path:path}", frontend_socket, name="module_frontend_ws"
)
