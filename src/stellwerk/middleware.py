"""Pure ASGI middleware around the API: request ids, access log, metrics, body size limit,
security headers, CORS for the API surfaces, and the fast paths answered in front of it all."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellwerk.exceptions import PayloadTooLarge, StellwerkError
from stellwerk.kit.logs import access, request_id_var
from stellwerk.metrics import HTTP
from stellwerk.surface import error_body, surface_for_path

log = logging.getLogger("stellwerk.access")

MAX_BODY_BYTES = 10 * 1024 * 1024


class _RequestIds:
    """32 hex digits like a uuid4's: a random prefix per process and a counter, so a request
    costs no system call for randomness (ids must be unique, not secret)."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id = _RequestIds()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (_header(scope, b"x-request-id") or new_request_id())[:64]
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
            HTTP.observe(scope["method"], route_path, status_holder["status"], elapsed)
            # The route template, not the path: keys in paths (license keys) stay out of logs.
            path = route_path if route is not None else scope["path"]
            access(log, scope["method"], path, status_holder["status"], elapsed)
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
ALWAYS_HEAD = b"".join(name + b": " + value + b"\r\n" for name, value in _ALWAYS)
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


# --- Fast paths ---------------------------------------------------------------------------------

# status, JSON body, extra headers
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
# Gets the scope and the whole body (empty for GET); None hands the request to the app.
FastHandler = Callable[[Scope, bytes], Awaitable[Answer | None]]
MAX_FAST_BODY = 16 * 1024  # larger bodies always take the ordinary route
_JSON = (b"content-type", b"application/json")
JSON_HEAD = b"content-type: application/json\r\n"
_TRIED = "stellwerk.fast_path_tried"


class FastPaths:
    """A few hot paths answered in front of the whole framework (`install`).

    FastAPI's layers cost several times a small answer's own work (routing, dependency
    solving, the middleware stack, response models). A fast handler answers a well-formed
    request to its path from plain ASGI, with the same request id, security headers, HTTP
    metrics and access log line the stack adds; anything it does not settle (it returns None)
    goes on to the ordinary route unchanged. `stellwerk serve` answers them even before ASGI,
    in its HTTP protocol (`stellwerk.fast_protocol`)."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[str, FastHandler]] = {}

    def add(self, method: str, path: str, handler: FastHandler) -> None:
        self.handlers[path] = (method, handler)

    def wants(self, scope: Scope) -> bool:
        """Whether a handler may answer this request (not yet tried for it)."""
        entry = self.handlers.get(scope["path"]) if scope["type"] == "http" else None
        return entry is not None and scope["method"] == entry[0] and _TRIED not in scope

    async def answer(self, scope: Scope, body: bytes) -> Answer | None:
        """The handler's answer (a 500 if it failed), or None: the app answers. Marks the
        request as tried, so that a second `FastPathMiddleware` further in passes it on."""
        scope[_TRIED] = True
        try:
            return await self.handlers[scope["path"]][1](scope, body)
        except Exception:
            log.exception("unhandled error on the fast path of %s", scope["path"])
            error = StellwerkError("Internal server error")
            return 500, orjson.dumps(error_body(error, surface_for_path(scope["path"]))), []

    def install(self, app: Starlette) -> None:
        """Put the fast paths in front of the app's middleware stack (built here if the first
        request has not built it yet). `stellwerk serve` also puts them in front of the app
        itself (`FastPathMiddleware(app, paths)`), before even the framework's entry point."""
        stack = app.middleware_stack or app.build_middleware_stack()
        if not isinstance(stack, FastPathMiddleware):
            app.middleware_stack = FastPathMiddleware(stack, self)


def fast_request_id(scope: Scope) -> str:
    """The id of a fast answer's request: the client's `X-Request-Id`, or a new one."""
    return (_header(scope, b"x-request-id") or new_request_id())[:64]


def answer_headers(scope: Scope, answer: Answer) -> tuple[list[tuple[bytes, bytes]], str]:
    """A fast answer's headers (those the middleware stack would add included) and its
    request id."""
    _status, payload, headers = answer
    request_id = fast_request_id(scope)
    return [
        _JSON,
        (b"content-length", str(len(payload)).encode()),
        *headers,
        (b"x-request-id", request_id.encode()),
        *_ALWAYS,
    ], request_id


def answered(scope: Scope, status: int, request_id: str, started: float) -> None:
    """The metrics and the access log line of a fast answer."""
    elapsed = time.perf_counter() - started
    method, path = scope["method"], scope["path"]
    HTTP.observe(method, path, status, elapsed)
    access(log, method, path, status, elapsed, request_id)


class FastPathMiddleware:
    def __init__(self, app: ASGIApp, paths: FastPaths) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.paths.wants(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, complete = b"", True
        if scope["method"] != "GET":
            body, complete = await _read_body(receive)
        if complete and len(body) <= MAX_FAST_BODY:  # larger bodies: always the route
            result = await self.paths.answer(scope, body)
        else:
            scope[_TRIED] = True
            result = None
        if result is None:
            read = scope["method"] != "GET"
            await self.app(scope, _replay(body, complete, receive) if read else receive, send)
            return
        headers, request_id = answer_headers(scope, result)
        try:
            await send({"type": "http.response.start", "status": result[0], "headers": headers})
            await send({"type": "http.response.body", "body": result[1]})
        finally:
            answered(scope, result[0], request_id, started)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body, and whether it ended (it is not read past `MAX_FAST_BODY`: the route reads the
    rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_FAST_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """Hand the route the body already read, then whatever the client still sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


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
