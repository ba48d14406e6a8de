"""The license client API's hot paths without the framework, on PostgreSQL.

Desktop clients verify on every start and often in between. Through FastAPI, Pydantic and the ORM
one verification costs about ten times the work of the bare query (see docs/benchmarks.md), so a
pure ASGI middleware answers `POST /api/license/verify` itself, and the common case of
`POST /api/license/activate` (the device holds its seat already) and
`POST /api/license/session/heartbeat` (a live session):

- the body is parsed with orjson and checked by hand; anything unusual (other content type,
  malformed JSON, a field Pydantic would refuse) goes on to the FastAPI route untouched, which
  answers with exactly the documented 422 and error bodies;
- then, in the route's order: the per-client rate limit (the same limiter and bucket as every
  other license client endpoint), the system API key (its digest cached briefly, see
  `ApiKeyCache`), one statement through asyncpg (prepared per connection, a pool without the
  per-release reset round trip); verify's is one LEFT JOIN over the two unique indexes;
- whatever the statement does not settle (an unknown session, a new seat) goes on to the route,
  marked as counted so the rate limit counts it once;
- verdicts use the service's rules (`unusable_reason`, the release catalog) and metrics; device
  `last_heartbeat` refreshes are buffered (`bookkeeping.touches`), never written per request.

SQLite (the embedded default) keeps the FastAPI routes: only PostgreSQL needs the speed.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from limits import RateLimitItem, parse
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, object_session
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellwerk.exceptions import InvalidApiKey, RateLimited, ServiceUnavailable, StellwerkError
from stellwerk.identity.service import API_KEY_PATTERN
from stellwerk.kit.logs import request_id_var
from stellwerk.kit.secret import hash_token
from stellwerk.kit.time import as_utc, utc_now
from stellwerk.license import metrics
from stellwerk.license.auth import RATE_COUNTED
from stellwerk.license.bookkeeping import touches
from stellwerk.license.pgpool import TinyPool
from stellwerk.license.schemas import LICENSE_KEY_PATTERN
from stellwerk.license.service import (
    MESSAGES,
    TOUCH_INTERVAL,
    LicenseNotFound,
    ReleaseInfo,
    _below_minimum,
    _newer,
    catalog,
    unusable_reason,
)
from stellwerk.metrics import HTTP_DURATION, HTTP_REQUESTS
from stellwerk.middleware import _ALWAYS as ALWAYS_HEADERS
from stellwerk.models import SystemApiKey
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_body

log = logging.getLogger(__name__)
access_log = logging.getLogger("stellwerk.access")

VERIFY_PATH = "/api/license/verify"
ACTIVATE_PATH = "/api/license/activate"
HEARTBEAT_PATH = "/api/license/session/heartbeat"
MAX_BODY = 16 * 1024  # a verify body is ~150 bytes; larger ones take the ordinary route
API_KEY_CHANNEL = "stellwerk_api_key"

VERIFY_SQL = """
SELECT l.license_key, l.license_type, l.valid_from, l.valid_until, l.max_users, l.is_active,
       a.id, a.is_active, a.last_heartbeat
FROM licenses l
LEFT JOIN license_activations a ON a.license_id = l.id AND a.hardware_hash = $2
WHERE l.license_key = $1
"""
ACTIVE_KEYS_SQL = "SELECT key_hash FROM system_api_keys WHERE revoked_at IS NULL"
# Activate, the common case: the device holds its seat already (no seat changes, so no license
# lock; the row-level conditions see a concurrent deactivation or switch-off). No row: the route.
ACTIVATE_SQL = """
UPDATE license_activations a
SET machine_name = COALESCE(NULLIF($3, ''), a.machine_name),
    app_version = COALESCE(NULLIF($4, ''), a.app_version), last_heartbeat = $5
FROM licenses l
WHERE l.license_key = $1 AND a.license_id = l.id AND a.hardware_hash = $2 AND a.is_active
  AND l.is_active AND l.valid_from <= $6 AND (l.valid_until IS NULL OR l.valid_until >= $6)
RETURNING a.id, l.license_key, a.hardware_hash, a.machine_name, a.activated_at,
          a.last_heartbeat, a.is_active
"""
# Heartbeat of a live session. No row (unknown, ended or timed out): the route answers.
HEARTBEAT_SQL = """
UPDATE license_sessions s SET last_heartbeat = $3
FROM licenses l, client_configs c
WHERE s.token_hash = $1 AND l.id = s.license_id AND l.license_key = $2
  AND c.id = s.client_config_id AND s.ended_at IS NULL
  AND s.last_heartbeat >= $3::timestamptz - make_interval(secs => c.session_timeout)
RETURNING c.heartbeat_interval, s.license_id, s.hardware_hash
"""

_JSON = (b"content-type", b"application/json")
# What SecurityHeadersMiddleware adds to every (non-HTML) answer.
_SECURITY_HEADERS = tuple(ALWAYS_HEADERS)


@dataclass(frozen=True)
class _Route:
    """What the access log and HTTP metrics read from `scope["route"]`."""

    path: str


_ROUTES = {path: _Route(path) for path in (VERIFY_PATH, ACTIVATE_PATH, HEARTBEAT_PATH)}


Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]  # status, body, extra headers


def _error(error: StellwerkError) -> Answer:
    headers = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    return error.status, orjson.dumps(error_body(error, Surface.LICENSE)), headers


_INVALID_KEY = _error(InvalidApiKey())
_NOT_FOUND = _error(LicenseNotFound())
_UNAVAILABLE = _error(
    ServiceUnavailable(
        "The database is unavailable; try again shortly", headers={"Retry-After": "5"}
    )
)


# --- The system API key -----------------------------------------------------------------------


class _Generation:
    """Bumped whenever a system API key is written in this process: cached digests are stale."""

    value = 0


def _key_written(_mapper: Mapper[Any], connection: Connection, target: SystemApiKey) -> None:
    _Generation.value += 1
    session = object_session(target)
    if session is not None:
        session.info["system_api_key_changed"] = True
    if connection.dialect.name == "postgresql":
        # Delivered at commit (NOTIFY is transactional) to every process's listener.
        connection.execute(text(f"SELECT pg_notify('{API_KEY_CHANNEL}', '')"))


def _after_commit(session: Session) -> None:
    # Bump again once committed: a request that reloaded between flush and commit saw the old key.
    if session.info.pop("system_api_key_changed", False):
        _Generation.value += 1


event.listen(SystemApiKey, "after_insert", _key_written)
event.listen(SystemApiKey, "after_update", _key_written)
event.listen(Session, "after_commit", _after_commit)


class ApiKeyCache:
    """The active key digests, reloaded after `ttl` seconds or at once after a rotation.

    A rotation in this process bumps `_Generation` (ORM events); one in another process arrives
    by LISTEN/NOTIFY. The TTL bounds the window should a notification be lost.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._digests: tuple[str, ...] = ()
        self._expires = 0.0
        self._generation = -1
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._expires = 0.0

    def _fresh(self) -> bool:
        return self._generation == _Generation.value and time.monotonic() < self._expires

    async def digests(self, pool: TinyPool) -> tuple[str, ...]:
        if self._fresh():
            return self._digests
        async with self._lock:  # one reload for all the requests that found it stale
            if not self._fresh():
                generation = _Generation.value
                expires = time.monotonic() + self.ttl
                rows = await pool.fetch(ACTIVE_KEYS_SQL)
                self._digests = tuple(str(r[0]) for r in rows)
                self._generation = generation
                self._expires = expires
        return self._digests

    async def accepts(self, pool: TinyPool, plain: str | None) -> bool:
        if not plain or not API_KEY_PATTERN.fullmatch(plain):
            return False
        digest = hash_token(plain)
        return any(hmac.compare_digest(digest, d) for d in await self.digests(pool))


# --- The request --------------------------------------------------------------------------------


# Request bodies are checked as the route's Pydantic models would; a None anywhere means "maybe
# not valid": the request takes the FastAPI route, which answers with the exact 422.


def _object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if type(data) is dict else None


def _license_key(data: dict[str, Any]) -> str | None:
    key = data.get("license_key")
    if type(key) is not str or len(key) > 64:
        return None
    key = key.strip().upper()
    return key if LICENSE_KEY_PATTERN.fullmatch(key) else None


def _text(data: dict[str, Any], field: str, low: int, high: int) -> str | None:
    value = data.get(field)
    return value if type(value) is str and low <= len(value) <= high else None


def _optional(data: dict[str, Any], field: str, high: int) -> tuple[bool, str | None]:
    value = data.get(field)
    if value is None:
        return True, None
    return (type(value) is str and len(value) <= high), value


def _parse_verify(data: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(license_key, hardware_hash, app_version) of a `VerifyRequest`."""
    key, hardware = _license_key(data), _text(data, "hardware_hash", 1, 255)
    ok, version = _optional(data, "app_version", 64)
    if key is None or hardware is None or not ok:
        return None
    return key, hardware, version


def _parse_activate(data: dict[str, Any]) -> tuple[str, str, str | None, str | None] | None:
    """(license_key, hardware_hash, machine_name, app_version) of an `ActivateRequest`."""
    key, hardware = _license_key(data), _text(data, "hardware_hash", 1, 255)
    machine_ok, machine_name = _optional(data, "machine_name", 255)
    version_ok, version = _optional(data, "app_version", 64)
    if key is None or hardware is None or not machine_ok or not version_ok:
        return None
    return key, hardware, machine_name, version


def _parse_heartbeat(data: dict[str, Any]) -> tuple[str, str] | None:
    """(session_token, license_key) of a `HeartbeatRequest`."""
    key, token = _license_key(data), _text(data, "session_token", 1, 64)
    if key is None or token is None:
        return None
    return token, key


class VerifyFastPath:
    """The state the middleware answers from: started and stopped with the app."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.pool: TinyPool | None = None
        self.keys = ApiKeyCache()
        self._listener: asyncpg.Connection | None = None
        self._limit: tuple[str, RateLimitItem] | None = None
        self._release_lock = asyncio.Lock()
        # Version comparisons per (latest release, app_version): parsing is the costly part.
        self._versions: dict[str | None, tuple[bool, bool]] = {}
        self._versions_for: ReleaseInfo | None = None
        self._valid = {r: metrics.VERIFICATIONS.labels(r) for r in ("valid", *MESSAGES)}
        self._not_found = metrics.VERIFICATIONS.labels("not_found")
        self._already_activated = metrics.ACTIVATIONS.labels("already_activated")
        self._heartbeats = metrics.HEARTBEATS

    @property
    def active(self) -> bool:
        return self.pool is not None

    def install(self, app: Starlette) -> None:
        """Put the fast path in front of the app's whole middleware stack (built here if the
        first request has not built it yet): its answers skip every framework layer."""
        app.state.license_fast_path = self
        stack = app.middleware_stack or app.build_middleware_stack()
        if not isinstance(stack, VerifyFastPathMiddleware):
            app.middleware_stack = VerifyFastPathMiddleware(stack, fast_path=self)

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.keys = ApiKeyCache()
        self._release_lock = asyncio.Lock()
        touches.start(runtime.database.engine)
        if runtime.database.dialect != "postgresql":
            return
        # Everything loaded so far lives as long as the process: move it out of the collector's
        # sight, or each full collection walks the whole app (tens of ms, the p99 stalls).
        gc.collect()
        gc.freeze()
        dsn = runtime.database.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        # Single autocommit statements leave no session state: no reset, no pool machinery.
        pool = TinyPool(dsn, size=10)
        await pool.start()
        self.pool = pool
        try:
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener(API_KEY_CHANNEL, self._on_key_notice)
        except (OSError, asyncpg.PostgresError):
            log.warning("no API key notifications; rotations elsewhere apply within the TTL")
            self._listener = None

    async def stop(self) -> None:
        await touches.stop()
        pool, self.pool = self.pool, None
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close(timeout=5)
        if pool is not None:
            await pool.close()

    def _on_key_notice(self, *_args: object) -> None:
        self.keys.invalidate()

    def _limit_item(self, runtime: Runtime) -> RateLimitItem:
        configured = runtime.settings.license_rate_limit  # read per request: it can change
        if self._limit is None or self._limit[0] != configured:
            self._limit = (configured, parse(configured))
        return self._limit[1]

    async def _latest(self, runtime: Runtime) -> ReleaseInfo | None:
        hit, info = catalog.peek("stable")
        if hit:
            return info
        async with self._release_lock, runtime.database.sessionmaker() as session:
            return await catalog.latest(session, "stable")

    def _version_flags(self, latest: ReleaseInfo | None, version: str | None) -> tuple[bool, bool]:
        if latest is not self._versions_for or len(self._versions) > 1024:
            self._versions = {}
            self._versions_for = latest
        flags = self._versions.get(version)
        if flags is None:
            flags = (_newer(latest, version), _below_minimum(latest, version))
            self._versions[version] = flags
        return flags

    async def answer(self, scope: Scope, body: bytes) -> Answer | None:
        """The response, or None when the FastAPI route should answer instead."""
        runtime, pool = self.runtime, self.pool
        if runtime is None or pool is None:
            return None
        api_key: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                # FastAPI reads JSON without a content type too; other types take its route.
                if not value.startswith(b"application/json"):
                    return None
            elif name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
        data = _object(body)
        if data is None:
            return None
        path = scope["path"]
        handler: Callable[[], Awaitable[Answer | None]]
        if path == VERIFY_PATH:
            verify = _parse_verify(data)
            if verify is None:
                return None
            handler = partial(self._verify, runtime, pool, *verify)
        elif path == ACTIVATE_PATH:
            activate = _parse_activate(data)
            if activate is None:
                return None
            handler = partial(self._activate, pool, *activate)
        else:
            heartbeat = _parse_heartbeat(data)
            if heartbeat is None:
                return None
            handler = partial(self._heartbeat, pool, *heartbeat)
        # The route's order: the client's rate limit, the API key, then the work.
        client = scope.get("client")
        try:
            await runtime.limiter.hit(
                self._limit_item(runtime), "license-api", client[0] if client else "unknown"
            )
        except RateLimited as error:
            return _error(error)
        scope[RATE_COUNTED] = True  # if the route answers after all, it does not count again
        try:
            if not await self.keys.accepts(pool, api_key):
                return _INVALID_KEY
            return await handler()
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            log.error("database unavailable on the license fast path")
            return _UNAVAILABLE

    async def _verify(
        self,
        runtime: Runtime,
        pool: TinyPool,
        license_key: str,
        hardware_hash: str,
        app_version: str | None,
    ) -> Answer:
        row = await pool.fetchrow(VERIFY_SQL, license_key, hardware_hash)
        if row is None:
            self._not_found.inc()
            return _NOT_FOUND
        latest = await self._latest(runtime)
        key, license_type, valid_from, valid_until, max_users, is_active, *activation = row
        activation_id, activation_active, heartbeat = activation
        newer, below = self._version_flags(latest, app_version)
        now = utc_now()
        reason = unusable_reason(
            is_active=is_active, valid_from=valid_from, valid_until=valid_until, today=now.date()
        )
        if reason is None and not activation_active:
            reason = "not_activated"
        if reason is None and below:
            reason = "version_unsupported"
        if activation_active and (heartbeat is None or now - as_utc(heartbeat) > TOUCH_INTERVAL):
            touches.add(activation_id, now)
        self._valid[reason or "valid"].inc()
        answer = {
            "valid": reason is None,
            "message": "License is valid" if reason is None else MESSAGES[reason],
            "reason": reason,
            "license": {
                "key": key,
                "type": license_type,
                "valid_until": valid_until,
                "max_users": max_users,
            },
            "update_available": newer,
            "latest_version": latest.version if latest else None,
            "min_supported_version": latest.min_supported_version if latest else None,
        }
        return 200, orjson.dumps(answer), []

    async def _activate(
        self,
        pool: TinyPool,
        license_key: str,
        hardware_hash: str,
        machine_name: str | None,
        app_version: str | None,
    ) -> Answer | None:
        now = utc_now()
        row = await pool.fetchrow(
            ACTIVATE_SQL, license_key, hardware_hash, machine_name, app_version, now, now.date()
        )
        if row is None:
            return None  # a new seat, an unknown or unusable license: the route's rules
        self._already_activated.inc()
        answer = {
            "message": "License is already activated on this device",
            "activation": {
                "id": row[0],
                "license_key": row[1],
                "hardware_hash": row[2],
                "machine_name": row[3],
                "activated_at": row[4],
                "last_heartbeat": row[5],
                "is_active": row[6],
            },
            "already_activated": True,
        }
        return 200, orjson.dumps(answer, option=orjson.OPT_UTC_Z), []

    async def _heartbeat(
        self, pool: TinyPool, session_token: str, license_key: str
    ) -> Answer | None:
        now = utc_now()
        row = await pool.fetchrow(HEARTBEAT_SQL, hash_token(session_token), license_key, now)
        if row is None:
            return None  # unknown, ended or timed out: the route ends it and says so
        interval, license_id, hardware_hash = row
        touches.add_device(license_id, hardware_hash, now, older_than=now - TOUCH_INTERVAL)
        self._heartbeats.inc()
        answer = {"success": True, "last_heartbeat": now, "next_heartbeat_in": interval}
        return 200, orjson.dumps(answer, option=orjson.OPT_UTC_Z), []


class VerifyFastPathMiddleware:
    """Answers verify, activate and heartbeat from `VerifyFastPath`; everything else passes by.

    It sits outside the whole middleware stack (`VerifyFastPath.install`): the framework's layers
    cost a sixth of a verification. So what the outer middlewares add to every answer is added
    here: the request id, the security headers, the HTTP metrics and the access log line.
    """

    def __init__(self, app: ASGIApp, *, fast_path: VerifyFastPath) -> None:
        self.app = app
        self.fast_path = fast_path
        self._metrics: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in _ROUTES
            or scope["method"] != "POST"
            or not self.fast_path.active
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, complete = await _read_body(receive)
        try:
            result = await self.fast_path.answer(scope, body) if complete else None
        except Exception:
            log.exception("unhandled error on the license fast path")
            result = _error(StellwerkError("Internal server error"))
        if result is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        status, payload, headers = result
        path = scope["path"]
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        _JSON,
                        (b"content-length", str(len(payload)).encode()),
                        *headers,
                        (b"x-request-id", request_id.encode()),
                        *_SECURITY_HEADERS,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
        finally:
            elapsed = time.perf_counter() - started
            counted = self._metrics.get((path, status))
            if counted is None:
                counted = self._metrics[(path, status)] = (
                    HTTP_REQUESTS.labels("POST", path, str(status)),
                    HTTP_DURATION.labels("POST", path),
                )
            counted[0].inc()
            counted[1].observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "POST %s %s", path, status, extra={"duration_ms": round(elapsed * 1000, 1)}
                )
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return str(value.decode("latin-1"))[:64]
    return uuid.uuid4().hex


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body, and whether it is complete (False past `MAX_BODY`: the route reads the rest)."""
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
        if size > MAX_BODY:
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
