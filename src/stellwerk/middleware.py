"""Pure ASGI middleware around the API: request ids, access log, metrics, body size limit,
security headers, and CORS for the API surfaces."""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellwerk.exceptions import PayloadTooLarge
from stellwerk.kit.logs import request_id_var
from stellwerk.metrics import HTTP_DURATION, HTTP_REQUESTS
from stellwerk.surface import error_body, surface_for_path

log = logging.getLogger("stellwerk.access")

MAX_BODY_BYTES = 10 * 1024 * 1024


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        request_id = request_id[:64]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            length = _header(scope, b"content-length")
            if length and length.isdecimal() and int(length) > self.max_body_bytes:
                await _reject_too_large(scope, send_with_id, self.max_body_bytes)
            else:
                await self.app(scope, _counting(receive, self.max_body_bytes), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route_path, str(status_holder["status"])).inc()
            HTTP_DURATION.labels(scope["method"], route_path).observe(elapsed)
            # The route template, not the path: keys in paths (license keys) stay out of logs.
            log.info(
                "%s %s %s",
                scope["method"],
                route_path if route is not None else scope["path"],
                status_holder["status"],
                extra={"duration_ms": round(elapsed * 1000, 1)},
            )
            request_id_var.reset(token)


def _counting(receive: Receive, limit: int) -> Receive:
    """`receive` that stops a body sent without Content-Length (chunked) at the limit too."""
    received = 0

    async def receive_counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # Raised inside the route's body parsing, which passes HTTP errors through.
                raise HTTPException(413, f"The request body is larger than {limit} bytes")
        return message

    return receive_counted


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _reject_too_large(scope: Scope, send: Send, limit: int) -> None:
    error = PayloadTooLarge(f"The request body is larger than {limit} bytes")
    body = orjson.dumps(error_body(error, surface_for_path(scope["path"])))
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# The API documentation pages load their scripts from their own assets; leave them be.
DOC_PAGES = ("/api/docs", "/api/redoc")
# Set in the scope by the module frontend proxy.
MODULE_FRONTEND = "stellwerk.module_frontend"
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_HTML = [
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    ),
]


class SecurityHeadersMiddleware:
    """Headers every response carries, and a strict policy for HTML pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                is_html = any(
                    k == b"content-type" and v.startswith(b"text/html") for k, v in headers
                )
                # A module frontend's pages carry the module's own policy, not Stellwerk's.
                own = not scope["path"].startswith(DOC_PAGES) and not scope.get(MODULE_FRONTEND)
                if is_html and own:
                    headers.extend(_HTML)
                headers.extend(_ALWAYS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The API surfaces (not the web UI's pages, static files or module frontends).
API_PREFIXES = ("/api/", "/modules/", "/repository/", "/leads/api/", "/ws/")
API_PATHS = frozenset({"/health", "/status"})
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# What the clients of the documented APIs send (the simple headers always pass).
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-API-Key",
    "X-CSRF-Token",
    "X-Request-Id",
]
CORS_RESPONSE_HEADERS = [
    "X-Request-Id",
    "Retry-After",
    "Location",
    "Content-Disposition",
    "Allow",
    "WWW-Authenticate",
    "Deprecation",
    "Sunset",
]
CORS_MAX_AGE = 3600  # seconds a browser may keep a preflight's answer


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIXES)


class ApiCorsMiddleware:
    """CORS for the configured origins (`STELLWERK_CORS_ORIGINS`) on the API surfaces only:
    with credentials, preflight answers cached for an hour, the headers API clients send."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_RESPONSE_HEADERS,
            max_age=CORS_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
