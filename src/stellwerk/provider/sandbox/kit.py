"""What every sandbox shares: token checks, rate-limit headers and 429s in the provider's own
style, switchable faults, a request log, persisted state, and serving on a loopback port.

Control endpoints (for tests in other processes), under `/__sandbox__/`:
    GET    requests            {"count": N, "requests": [{"method","path","at","token"}...]}
    POST   faults              {"kind": "status|timeout|rate_limit|slow|drop", "count": 3,
                                "status": 503, "retry_after": 2, "delay": 1.5,
                                "path": "/v1/servers", "path_suffix": "/start", "method": "POST",
                                "body_contains": "domain.create", "after_write": true}
                               `drop` cuts the connection without an answer; `after_write`
                               lets the sandbox do the work first and then loses the answer
                               (`status`: a 5xx instead, `timeout`/`drop`: no answer), as when
                               the provider created something but the response never arrived
    DELETE faults              switch every fault off
    POST   reset               forget all state and the request log
    *      <name>              a sandbox's own switches (`controls=`), e.g. Coolify's
                               `deployments` (make the next deployments fail, change timings)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

ErrorBody = Callable[[int, str, str], Any]
# A sandbox's own control endpoint: gets the method and the JSON body (None for none), returns
# the JSON answer (None: 204).
Control = Callable[[str, Any], Any]
CONTROL_PREFIX = "/__sandbox__/"
SANDBOX_TOKEN_PREFIX = "sandbox-"


@dataclass
class RateLimitStyle:
    """How a provider announces its limits: header names and what `reset` holds."""

    limit: str
    remaining: str
    reset: str | None
    reset_kind: Literal["epoch", "seconds"] = "epoch"
    retry_after_on_429: bool = True
    # A token bucket refilled by this many requests a second (Hetzner: one) instead of a fixed
    # window; `reset` is then the time the bucket is full again.
    refill_per_second: float | None = None
    # The reset header only on a 429 (Laravel's throttle: Coolify).
    reset_on_429_only: bool = False


@dataclass
class SandboxProfile:
    name: str
    error_body: ErrorBody
    rate_limit: int
    rate_window: float
    style: RateLimitStyle
    # Paths the token check skips (the INWX login, for example).
    public_paths: tuple[str, ...] = ()
    unauthorized_status: int = 401
    unauthorized_code: str = "unauthorized"
    unauthorized_message: str = "Unauthorized"
    rate_limited_code: str = "rate_limit_exceeded"
    rate_limited_message: str = "Rate limit exceeded"
    bearer_auth: bool = True


@dataclass
class Fault:
    kind: Literal["status", "timeout", "rate_limit", "slow", "drop"]
    count: int
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    path: str | None = None  # a prefix
    path_suffix: str | None = None  # e.g. "/start" for every application's start
    method: str | None = None
    # JSON-RPC providers (INWX) send every call to one path: match the call in the body.
    body_contains: str | None = None
    after_write: bool = False

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        if self.path and not path.startswith(self.path):
            return False
        if self.path_suffix and not path.endswith(self.path_suffix):
            return False
        if self.body_contains and self.body_contains.encode() not in body:
            return False
        return not (self.method and self.method.upper() != method.upper())


@dataclass
class Recorded:
    method: str
    path: str
    at: float
    token: str | None


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str, body: bytes = b"") -> Fault | None:
        for fault in self._faults:
            if fault.count > 0 and fault.matches(method, path, body):
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None


class JsonState:
    """Sandbox state kept in a JSON file, so a restarted sandbox still knows its servers."""

    def __init__(self, path: Path | None, initial: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._initial = initial
        self.data: dict[str, Any] = initial()
        if path is not None and path.exists():
            self.data = json.loads(path.read_text())

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data))
        os.replace(temporary, self.path)

    def reset(self) -> None:
        self.data = self._initial()
        self.save()

    def next_id(self, counter: str, start: int = 1) -> int:
        counters = self.data.setdefault("_counters", {})
        value = int(counters.get(counter, start))
        counters[counter] = value + 1
        return value


def token_of(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def fingerprint(token: str | None) -> str | None:
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()[:12]


class SandboxMiddleware:
    """Wraps a provider's sandbox app with auth, limits, faults and the control endpoints."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        profile: SandboxProfile,
        state: JsonState | None = None,
        on_reset: Callable[[], None] | None = None,
        controls: dict[str, Control] | None = None,
        sandbox: Any = None,
    ) -> None:
        self.app = app
        # The provider model behind the app, for tests that look at its state.
        self.sandbox = sandbox
        self.controls = dict(controls or {})
        self.profile = profile
        self.state = state
        self.on_reset = on_reset
        self.faults = Faults()
        self.log: deque[Recorded] = deque(maxlen=100_000)
        self._windows: dict[str, tuple[float, int]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, receive, send)
            return
        method: str = scope["method"]
        token = token_of(scope)
        self.log.append(Recorded(method, path, time.time(), fingerprint(token)))
        body, receive = await _buffered(receive)
        fault = self.faults.take(method, path, body)
        if fault is not None and fault.kind == "drop" and not fault.after_write:
            await _drop(send)
            return
        if fault is not None and fault.kind in ("timeout", "slow") and not fault.after_write:
            await asyncio.sleep(fault.delay or 30.0)
            if fault.kind == "timeout":
                return  # never answer; the client's timeout fires
        profile = self.profile
        public = any(path.startswith(p) for p in profile.public_paths)
        if (
            profile.bearer_auth
            and not public
            and not (token and token.startswith(SANDBOX_TOKEN_PREFIX))
        ):
            answer = profile.error_body(
                profile.unauthorized_status, profile.unauthorized_code, profile.unauthorized_message
            )
            await self._send(send, profile.unauthorized_status, answer, {})
            return
        limited = fault is not None and fault.kind == "rate_limit"
        headers, exhausted, reset_in = self._count(
            token or "anonymous", spend_all=limited and bool(profile.style.refill_per_second)
        )
        if fault is not None and limited:
            exhausted, reset_in = (
                True,
                fault.retry_after if fault.retry_after is not None else reset_in,
            )
        if exhausted:
            if profile.style.retry_after_on_429:
                headers["retry-after"] = str(max(1, round(reset_in)))
            if profile.style.reset and profile.style.reset_on_429_only:
                headers[profile.style.reset] = str(int(time.time() + reset_in))
            answer = profile.error_body(
                429, profile.rate_limited_code, profile.rate_limited_message
            )
            await self._send(send, 429, answer, headers)
            return
        if fault is not None and fault.after_write and fault.kind in ("timeout", "drop"):
            await self.app(scope, receive, _discard)
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay or 30.0)
            await _drop(send)
            return
        if fault is not None and fault.kind == "status":
            if fault.after_write:
                await self.app(scope, receive, _discard)
            error = profile.error_body(fault.status, "server_error", "Injected failure")
            extra = dict(headers)
            if fault.retry_after is not None:
                extra["retry-after"] = str(fault.retry_after)
            await self._send(send, fault.status, error, extra)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in headers.items()
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _count(self, token: str, *, spend_all: bool = False) -> tuple[dict[str, str], bool, float]:
        """Counting per token (a fixed window, or the profile's token bucket); returns the
        headers, whether the budget is spent, and the seconds until it resets."""
        profile = self.profile
        now = time.time()
        refill = profile.style.refill_per_second
        if refill:
            level, at = self._buckets.get(token, (float(profile.rate_limit), now))
            level = min(float(profile.rate_limit), level + (now - at) * refill)
            if spend_all:
                level = 0.0
            exhausted = level < 1.0
            if not exhausted:
                level -= 1.0
            self._buckets[token] = (level, now)
            full_in = (profile.rate_limit - level) / refill
            headers = {
                profile.style.limit: str(profile.rate_limit),
                profile.style.remaining: str(int(level)),
            }
            if profile.style.reset:
                headers[profile.style.reset] = str(int(now + full_in))
            return headers, exhausted, (1.0 - level) / refill if exhausted else 0.0
        started, used = self._windows.get(token, (now, 0))
        if now - started >= profile.rate_window:
            started, used = now, 0
        used += 1
        self._windows[token] = (started, used)
        reset_at = started + profile.rate_window
        style = profile.style
        headers = {
            style.limit: str(profile.rate_limit),
            style.remaining: str(max(0, profile.rate_limit - used)),
        }
        if style.reset and not style.reset_on_429_only:
            headers[style.reset] = (
                str(int(reset_at)) if style.reset_kind == "epoch" else str(int(reset_at - now))
            )
        return headers, used > profile.rate_limit, max(0.0, reset_at - now)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        action = scope["path"][len(CONTROL_PREFIX) :].strip("/")
        method = scope["method"]
        if action == "requests" and method == "GET":
            entries = [r.__dict__ for r in self.log]
            await self._send(send, 200, {"count": len(entries), "requests": entries[-1000:]}, {})
        elif action == "faults" and method == "POST":
            self.faults.add(Fault(**(await request.json())))
            await self._send(send, 204, None, {})
        elif action == "faults" and method == "DELETE":
            self.faults.clear()
            await self._send(send, 204, None, {})
        elif action == "reset" and method == "POST":
            self.faults.clear()
            self.log.clear()
            self._windows.clear()
            self._buckets.clear()
            if self.state is not None:
                self.state.reset()
            if self.on_reset is not None:
                self.on_reset()
            await self._send(send, 204, None, {})
        elif action in self.controls:
            raw = await request.body()
            answer = self.controls[action](method, json.loads(raw) if raw else None)
            await self._send(send, 200 if answer is not None else 204, answer, {})
        else:
            await self._send(send, 404, {"message": "unknown sandbox control"}, {})

    @staticmethod
    async def _send(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
        response = (
            Response(status_code=status, headers=headers)
            if body is None
            else JSONResponse(body, status_code=status, headers=headers)
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Any:
    return {"type": "http.disconnect"}


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body (faults may match on it), and a `receive` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _discard(message: Any) -> None:
    """The answer that never reaches the client."""


async def _drop(send: Send) -> None:
    """Cut the connection without an answer: the headers promise a body that never comes, so
    the server closes the connection and the client sees it break."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
    )
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass
class RunningSandbox:
    name: str
    url: str
    port: int
    server: uvicorn.Server = field(repr=False)
    task: asyncio.Task[None] = field(repr=False)

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=10)


async def start_server(
    app: ASGIApp | Starlette, *, name: str, host: str = "127.0.0.1", port: int = 0, suffix: str = ""
) -> RunningSandbox:
    """Serve `app` on a loopback port (0: any free one) in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
    return RunningSandbox(name, f"http://{host}:{bound_port}{suffix}", bound_port, server, task)
