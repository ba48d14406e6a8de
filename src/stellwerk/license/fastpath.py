"""The license client API's hot paths without the framework, on SQLite and PostgreSQL.

Desktop clients verify on every start and often in between. Through FastAPI, Pydantic and the ORM
one verification costs about ten times the work of the bare query (see docs/benchmarks.md), so
`POST /api/license/verify`, the common case of `POST /api/license/activate` (the device holds its
seat already) and `POST /api/license/session/heartbeat` (a live session) are answered in front
of the framework (`middleware.FastPaths`):

- the body is parsed with orjson and checked by hand; anything unusual (other content type,
  malformed JSON, a field Pydantic would refuse) goes on to the FastAPI route untouched, which
  answers with exactly the documented 422 and error bodies;
- then, in the route's order: the per-client rate limit (the same limiter and bucket as every
  other license client endpoint), the system API key (its digest cached briefly, see
  `ApiKeyCache`), one read: the repository's statement compiled once for the raw driver
  (`kit.rawsql`). On PostgreSQL it runs on asyncpg (prepared per connection, a pool without the
  per-release reset round trip); on SQLite on a read-only connection on the event loop's own
  thread (WAL: a reader never waits for a writer), with no worker thread in between;
- the verdict, the answer and what may wait are the licensing policy's (`license.policy`), the
  same functions the routes use; what the read does not settle (an unknown session, a new seat,
  a changed device name) goes on to the route, marked as counted so the rate limit counts it
  once;
- writes are `last_heartbeat` refreshes only, buffered (`bookkeeping.touches`) and written in
  batches off the request path.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import orjson
from limits import RateLimitItem, parse
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, object_session
from starlette.types import Scope

from stellwerk.exceptions import InvalidApiKey, RateLimited, ServiceUnavailable, StellwerkError
from stellwerk.identity.service import API_KEY_PATTERN
from stellwerk.kit.rawsql import RawQuery, SqliteReader, compile_query
from stellwerk.kit.secret import hash_token
from stellwerk.kit.time import utc_now
from stellwerk.license import metrics, policy
from stellwerk.license.auth import RATE_COUNTED
from stellwerk.license.bookkeeping import touches
from stellwerk.license.pgpool import TinyPool
from stellwerk.license.policy import DeviceRow, ReleaseInfo, SessionRow
from stellwerk.license.repository import ACTIVE_API_KEYS, LICENSE_DEVICE, SESSION_BY_TOKEN
from stellwerk.license.schemas import LICENSE_KEY_PATTERN
from stellwerk.license.service import LicenseNotFound, catalog
from stellwerk.middleware import Answer, FastPaths
from stellwerk.models import SystemApiKey
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_body

log = logging.getLogger(__name__)

VERIFY_PATH = "/api/license/verify"
ACTIVATE_PATH = "/api/license/activate"
HEARTBEAT_PATH = "/api/license/session/heartbeat"
API_KEY_CHANNEL = "stellwerk_api_key"
# A database that cannot answer: the client hears 503 and tries again.
UNAVAILABLE_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    sqlite3.OperationalError,
)


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


# --- Reading ------------------------------------------------------------------------------------


class Reader(Protocol):
    async def fetchrow(
        self, query: RawQuery, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None: ...

    async def fetch(self, query: RawQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class PostgresReader:
    """Single autocommit statements leave no session state: no reset, no pool machinery."""

    def __init__(self, pool: TinyPool) -> None:
        self.pool = pool

    async def fetchrow(self, query: RawQuery, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = await self.pool.fetchrow(query.sql, *query.args(params))
        return None if row is None else query.row(row)

    async def fetch(self, query: RawQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [query.row(row) for row in await self.pool.fetch(query.sql, *query.args(params))]

    async def close(self) -> None:
        await self.pool.close()


class SqliteLoopReader:
    """SQLite reads on the event loop's thread (`kit.rawsql.SqliteReader`)."""

    def __init__(self, reader: SqliteReader) -> None:
        self.reader = reader

    async def fetchrow(self, query: RawQuery, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        return self.reader.fetchrow(query, params)

    async def fetch(self, query: RawQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self.reader.fetch(query, params)

    async def close(self) -> None:
        self.reader.close()


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
    by LISTEN/NOTIFY on PostgreSQL. The TTL bounds the window should a notification be lost, and
    on SQLite (no notifications) a rotation by another process (the CLI) applies within it.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._digests: tuple[str, ...] = ()
        self._expires = 0.0
        self._generation = -1
        self._lock = asyncio.Lock()
        # The key last accepted, while the digests it matched are fresh: clients send the same
        # key on every call, and this spares each of them the hash (memory only, never logged).
        self._accepted: bytes | None = None

    def invalidate(self) -> None:
        self._expires = 0.0
        self._accepted = None

    def _fresh(self) -> bool:
        return self._generation == _Generation.value and time.monotonic() < self._expires

    async def digests(self, reader: Reader, query: RawQuery) -> tuple[str, ...]:
        if self._fresh():
            return self._digests
        async with self._lock:  # one reload for all the requests that found it stale
            if not self._fresh():
                generation = _Generation.value
                expires = time.monotonic() + self.ttl
                rows = await reader.fetch(query, {})
                self._accepted = None
                self._digests = tuple(str(r[0]) for r in rows)
                self._generation = generation
                self._expires = expires
        return self._digests

    async def accepts(self, reader: Reader, query: RawQuery, plain: str | None) -> bool:
        if not plain:
            return False
        candidate, accepted = plain.encode("latin-1"), self._accepted
        if accepted is not None and self._fresh() and hmac.compare_digest(candidate, accepted):
            return True
        if not API_KEY_PATTERN.fullmatch(plain):
            return False
        digest = hash_token(plain)
        if any(hmac.compare_digest(digest, d) for d in await self.digests(reader, query)):
            self._accepted = candidate
            return True
        return False


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
    """The state the fast handlers answer from: started and stopped with the app."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.reader: Reader | None = None
        self.enabled = True  # off: every request takes the route (tests compare the two)
        self.keys = ApiKeyCache()
        self._queries: dict[str, RawQuery] = {}
        self._listener: asyncpg.Connection | None = None
        self._limit: tuple[str, RateLimitItem] | None = None
        self._release_lock = asyncio.Lock()
        self._release_refresh: asyncio.Task[None] | None = None
        # Version comparisons per (latest release, app_version): parsing is the costly part.
        self._versions: dict[str | None, tuple[bool, bool]] = {}
        self._versions_for: ReleaseInfo | None = None
        self._valid = {r: metrics.VERIFICATIONS.labels(r) for r in ("valid", *policy.MESSAGES)}
        self._not_found = metrics.VERIFICATIONS.labels("not_found")
        self._already_activated = metrics.ACTIVATIONS.labels("already_activated")
        self._heartbeats = metrics.HEARTBEATS

    @property
    def active(self) -> bool:
        return self.enabled and self.reader is not None

    def register(self, paths: FastPaths) -> None:
        """Answer the three client calls in front of the framework."""
        for path in (VERIFY_PATH, ACTIVATE_PATH, HEARTBEAT_PATH):
            # Looked up per request: tests wrap `answer`.
            paths.add("POST", path, lambda scope, body: self.answer(scope, body))

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.keys = ApiKeyCache()
        self._release_lock = asyncio.Lock()
        touches.start(runtime.database.engine)
        engine = runtime.database.engine
        self._queries = {
            "device": compile_query(LICENSE_DEVICE, engine.dialect),
            "session": compile_query(SESSION_BY_TOKEN, engine.dialect),
            "keys": compile_query(ACTIVE_API_KEYS, engine.dialect),
        }
        # Everything loaded so far lives as long as the process: move it out of the collector's
        # sight, or each full collection walks the whole app (tens of ms, the p99 stalls).
        gc.collect()
        gc.freeze()
        if runtime.database.dialect == "sqlite":
            database = engine.url.database
            if database and database != ":memory:":
                self.reader = SqliteLoopReader(SqliteReader(database))
            return
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = TinyPool(dsn, size=runtime.settings.database_pool_size)
        await pool.start()
        self.reader = PostgresReader(pool)
        try:
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener(API_KEY_CHANNEL, self._on_key_notice)
        except (OSError, asyncpg.PostgresError):
            log.warning("no API key notifications; rotations elsewhere apply within the TTL")
            self._listener = None

    async def stop(self) -> None:
        refresh, self._release_refresh = self._release_refresh, None
        if refresh is not None:
            await asyncio.gather(refresh, return_exceptions=True)
        await touches.stop()
        reader, self.reader = self.reader, None
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close(timeout=5)
        if reader is not None:
            await reader.close()

    def _on_key_notice(self, *_args: object) -> None:
        self.keys.invalidate()

    def _limit_item(self, runtime: Runtime) -> RateLimitItem:
        configured = runtime.settings.license_rate_limit  # read per request: it can change
        if self._limit is None or self._limit[0] != configured:
            self._limit = (configured, parse(configured))
        return self._limit[1]

    async def _latest(self, runtime: Runtime) -> ReleaseInfo | None:
        """The latest stable release. When the catalog's few seconds are up, requests go on with
        the one they know while one background task asks the database: under load that answer
        waits for a busy event loop, and no request should wait with it. A release published
        here clears the catalog, and the next request waits for the new one."""
        hit, info = catalog.peek("stable")
        if hit:
            return info
        known, info = catalog.last_known("stable")
        if known:
            if self._release_refresh is None or self._release_refresh.done():
                self._release_refresh = asyncio.get_running_loop().create_task(
                    self._refresh_latest(runtime)
                )
            return info
        return await self._load_latest(runtime)

    async def _refresh_latest(self, runtime: Runtime) -> None:
        try:
            await self._load_latest(runtime)
        except Exception as error:  # the known release stays; the next request tries again
            log.warning("could not reload the latest release: %s", error)

    async def _load_latest(self, runtime: Runtime) -> ReleaseInfo | None:
        async with self._release_lock, runtime.database.sessionmaker() as session:
            return await catalog.latest(session, "stable")

    def _version_flags(self, latest: ReleaseInfo | None, version: str | None) -> tuple[bool, bool]:
        """(update available, below the minimum supported version)."""
        if latest is not self._versions_for or len(self._versions) > 1024:
            self._versions = {}
            self._versions_for = latest
        flags = self._versions.get(version)
        if flags is None:
            flags = (policy.newer(latest, version), policy.below_minimum(latest, version))
            self._versions[version] = flags
        return flags

    async def answer(self, scope: Scope, body: bytes) -> Answer | None:
        """The response, or None when the FastAPI route should answer instead."""
        runtime, reader = self.runtime, self.reader
        if runtime is None or reader is None or not self.enabled:
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
            handler = partial(self._verify, runtime, reader, *verify)
        elif path == ACTIVATE_PATH:
            activate = _parse_activate(data)
            if activate is None:
                return None
            handler = partial(self._activate, reader, *activate)
        else:
            heartbeat = _parse_heartbeat(data)
            if heartbeat is None:
                return None
            handler = partial(self._heartbeat, reader, *heartbeat)
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
            if not await self.keys.accepts(reader, self._queries["keys"], api_key):
                return _INVALID_KEY
            return await handler()
        except UNAVAILABLE_ERRORS:
            log.error("database unavailable on the license fast path")
            return _UNAVAILABLE

    async def _device(
        self, reader: Reader, license_key: str, hardware_hash: str
    ) -> DeviceRow | None:
        row = await reader.fetchrow(
            self._queries["device"], {"license_key": license_key, "hardware_hash": hardware_hash}
        )
        return None if row is None else DeviceRow(*row)

    async def _verify(
        self,
        runtime: Runtime,
        reader: Reader,
        license_key: str,
        hardware_hash: str,
        app_version: str | None,
    ) -> Answer:
        row = await self._device(reader, license_key, hardware_hash)
        if row is None:
            self._not_found.inc()
            return _NOT_FOUND
        latest = await self._latest(runtime)
        newer, below = self._version_flags(latest, app_version)
        now = utc_now()
        reason = policy.verify_reason(row, today=now.date(), unsupported_version=below)
        if policy.verify_touch_due(row, now):
            assert row.activation_id is not None
            touches.add(row.activation_id, now)
        self._valid[reason or "valid"].inc()
        return 200, orjson.dumps(policy.verify_answer(row, reason, latest, newer)), []

    async def _activate(
        self,
        reader: Reader,
        license_key: str,
        hardware_hash: str,
        machine_name: str | None,
        app_version: str | None,
    ) -> Answer | None:
        row = await self._device(reader, license_key, hardware_hash)
        now = utc_now()
        if row is None or not policy.holds_seat_unchanged(
            row, today=now.date(), machine_name=machine_name, app_version=app_version
        ):
            return None  # a new seat, a change, an unknown or unusable license: the route
        assert row.activation_id is not None
        assert row.activated_at is not None
        touches.add(row.activation_id, now)
        self._already_activated.inc()
        answer = policy.activation_answer(
            activation_id=row.activation_id,
            license_key=row.license_key,
            hardware_hash=row.hardware_hash or hardware_hash,
            machine_name=row.machine_name,
            activated_at=row.activated_at,
            last_heartbeat=now,
            is_active=True,
            already_activated=True,
        )
        return 200, orjson.dumps(answer, option=orjson.OPT_UTC_Z), []

    async def _heartbeat(
        self, reader: Reader, session_token: str, license_key: str
    ) -> Answer | None:
        found = await reader.fetchrow(
            self._queries["session"], {"token_hash": hash_token(session_token)}
        )
        now = utc_now()
        if found is None:
            return None  # unknown: the route says so
        row = SessionRow(*found)
        if not policy.heartbeat_can_wait(row, license_key, now):
            return None  # ended, timed out, near its timeout or another license's: the route
        touches.add_session(row.session_id, now)
        touches.add_device(
            row.license_id, row.hardware_hash, now, older_than=now - policy.TOUCH_INTERVAL
        )
        self._heartbeats.inc()
        answer = policy.heartbeat_answer(now, row.heartbeat_interval)
        return 200, orjson.dumps(answer, option=orjson.OPT_UTC_Z), []
