"""The redirect data plane: answers every redirect domain, no framework on the hot path.

A request costs a dict lookup and appending one hit to a list: the answer to a Host, path and
query (the routing key is the lower-cased host without its port; `Location` is built from the
route) is remembered until the routing table changes, and most requests repeat one. The routing
table lives in memory and is reloaded when the routing version in the database moves (polled
every `redirect_refresh_seconds`), so every worker of every process sees a change within a
second. It is served by `kit.http1` (an HTTP/1.1 protocol on the event loop, no per-request
task) in worker processes of their own (`redirect.workers`), beside the API in `stellwerk serve`
and alone in `stellwerk redirect serve`; `serve_data_plane` serves one on the caller's loop
(tests and tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.keyfile import derive_key, load_or_create_master_key
from stellwerk.kit.http1 import Http1Server
from stellwerk.kit.process import set_process_name
from stellwerk.redirect import sunset
from stellwerk.redirect.barrier import POLL_SECONDS, RoutingBarrier
from stellwerk.redirect.counters import (
    PUBLISH_SECONDS,
    DataPlaneCounters,
    WorkerCounts,
    metrics_handler,
)
from stellwerk.redirect.hits import (
    HitRecorder,
    HitSpool,
    HitWriter,
    SaltKeeper,
    TrustedProxies,
    run_spool_writer,
)
from stellwerk.redirect.repository import DomainRepository, RoutingStateRepository
from stellwerk.system.heartbeat import HEARTBEAT_SECONDS, ProcessIdentity, heartbeat, leave

log = logging.getLogger(__name__)

SALT_REFRESH_SECONDS = 60.0
# Remembered answers: at most this many, for requests whose Host, path and query together are at
# most this long (about 2 KB each at most: a worker never holds more than about 10 MB of them).
ANSWER_CACHE_MAX = 4096
ANSWER_CACHE_KEY_MAX = 512
NOT_FOUND_BODY = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Not found</title></head>"
    b"<body><h1>Not found</h1><p>No redirect is configured for this host.</p></body></html>"
)
NOT_FOUND_HEADERS = b"content-type: text/html; charset=utf-8\r\n"
GRACE_SECONDS = 10.0  # a graceful stop waits this long for requests under way
# Bytes a Location path may carry as they are; everything else is percent-encoded.
_SAFE = frozenset(range(0x21, 0x7F)) - {ord('"'), ord("<"), ord(">"), ord("\\"), ord("`")}
_SAFE_BYTES = bytes(sorted(_SAFE))


@dataclass(frozen=True, slots=True)
class Route:
    domain_id: int
    status: int
    preserve_path: bool
    target: str  # the configured URL, used as it is without preserve_path
    base: str  # scheme://host[:port]/path without a trailing slash
    query: str  # the target's own query, kept in front of the request's
    # A sunset domain answers this (status, header lines, body) instead of redirecting.
    page: tuple[int, bytes, bytes] | None = None


# Domain id, routing key, path as logged, (status, header lines, body).
Answer = tuple[int | None, str, str, tuple[int, bytes, bytes]]


def make_route(
    domain_id: int,
    target_url: str,
    code: int,
    preserve_path: bool,
    page: tuple[int, bytes, bytes] | None = None,
) -> Route:
    parts = urlsplit(target_url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
    return Route(domain_id, code, preserve_path, target_url, base, parts.query, page)


def safe_path(raw: bytes) -> str:
    """The request path, always starting with `/`, with anything unsafe percent-encoded."""
    if not raw.startswith(b"/"):
        raw = b"/" + raw
    if not raw.translate(None, _SAFE_BYTES):  # the common case, at C speed
        return raw.decode("ascii")
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def safe_query(raw: bytes) -> str:
    if not raw.translate(None, _SAFE_BYTES):
        return raw.decode("ascii")
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def location(route: Route, path: str, query: str) -> str:
    if not route.preserve_path:
        return route.target
    if route.query:
        query = f"{route.query}&{query}" if query else route.query
    return f"{route.base}{path}?{query}" if query else f"{route.base}{path}"


def host_key(raw: str) -> str:
    """`WWW.Example.DE:8080` → `www.example.de`."""
    host = raw.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    name, sep, port = host.rpartition(":")
    if sep and port.isdecimal():
        host = name
    return host.rstrip(".")


class RoutingTable:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.version: int | None = None
        self.loaded_at = 0.0

    async def refresh(self, database: Database) -> bool:
        """Reload when the routing version moved. True when the table changed."""
        async with database.session() as session:
            version = await RoutingStateRepository(session).version()
            if version == self.version:
                return False
            rows = await DomainRepository(session).routes()
        routes: dict[str, Route] = {}
        for row in rows:
            page = None
            if row.sunset_config:
                try:
                    page = sunset.render(row.domain, row.target_url, row.sunset_config)
                except (KeyError, TypeError, ValueError):  # never let one row stop the table
                    log.exception("cannot render the sunset page of %s", row.domain)
            route = make_route(row.id, row.target_url, row.redirect_code, row.preserve_path, page)
            name, include_www = row.domain, row.include_www
            routes[name] = route
            if include_www:
                routes.setdefault(f"www.{name}", route)
        self.routes = routes  # one assignment: requests see the old or the new table
        self.version = version
        self.loaded_at = time.monotonic()
        return True


class DataPlane:
    """The redirect server. With `spool`, hits are handed to spool files for a writer process
    (`stellwerk redirect serve`); without, a writer thread of this process stores them."""

    def __init__(
        self, settings: Settings, database: Database, master_key: bytes, *, spool: bool = False
    ) -> None:
        self.settings = settings
        # Shared with the API of `stellwerk serve` (see `redirect.barrier`): this worker's slot.
        self.barrier: RoutingBarrier | None = None
        self.barrier_slot = 0
        # A worker process's slot in the data plane's counters (`redirect.counters`).
        self.counts: WorkerCounts | None = None
        self.database = database
        self.table = RoutingTable()
        self.salts = SaltKeeper(
            derive_key(master_key, "redirect-salt"),
            retention_days=settings.redirect_salt_retention_days,
        )
        self.recorder = HitRecorder(self.salts, TrustedProxies(settings.trusted_proxies))
        self.writer: HitWriter | HitSpool
        if spool:
            self.writer = HitSpool(
                spool_dir(settings),
                flush_seconds=settings.redirect_hit_flush_seconds,
                batch_size=settings.redirect_hit_batch_size,
            )
        else:
            self.writer = HitWriter(
                database.url,
                spool_dir=spool_dir(settings),
                flush_seconds=settings.redirect_hit_flush_seconds,
                batch_size=settings.redirect_hit_batch_size,
                buffer_max=settings.redirect_hit_buffer_max,
            )
        self._tasks: list[asyncio.Task[None]] = []
        # A worker process of its own (`spool`) counts in the installation's status.
        self.heartbeat = ProcessIdentity(role="redirect", executor_id=None) if spool else None
        self.served = 0
        # (Host, path, query) as sent → the answer and what the hit records (`_answer`).
        self._answers: dict[tuple[bytes, bytes, bytes], Answer] = {}
        self._answered_from: dict[str, Route] = self.table.routes  # the table they came from
        self._forwarding = bool(self.recorder.proxies)  # X-Forwarded-For matters only then

    @classmethod
    def from_settings(
        cls, settings: Settings, *, database: Database | None = None, spool: bool = False
    ) -> DataPlane:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        configured = settings.secret_key.get_secret_value() if settings.secret_key else None
        master_key = load_or_create_master_key(settings.data_dir, configured)
        database = database or Database(
            settings.resolved_database_url, pool_size=settings.database_pool_size
        )
        return cls(settings, database, master_key, spool=spool)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        with contextlib.suppress(Exception):  # not migrated yet, or the database is down
            await self.salts.refresh(self.database)
        with contextlib.suppress(Exception):
            await self.table.refresh(self.database)
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._every(self.settings.redirect_refresh_seconds, self._routes)),
            asyncio.create_task(self._every(SALT_REFRESH_SECONDS, self._salts)),
        ]
        if self.heartbeat is not None:
            self._tasks.append(asyncio.create_task(self._every(HEARTBEAT_SECONDS, self._beat)))
        if self.barrier is not None:
            self._report()
            self._tasks.append(asyncio.create_task(self._every(POLL_SECONDS, self._asked)))
        if self.counts is not None:
            self._tasks.append(asyncio.create_task(self._every(PUBLISH_SECONDS, self._publish)))

    async def _publish(self) -> None:
        self.publish_counts()

    def publish_counts(self) -> None:
        """Copy what this worker counted into its slot of the shared counters."""
        if self.counts is not None:
            spooled = self.writer.spooled if isinstance(self.writer, HitSpool) else 0
            self.counts.publish(self.served, spooled)

    async def _beat(self) -> None:
        if self.heartbeat is not None:
            await heartbeat(self.database, self.heartbeat, routing_version=self.table.version)

    async def _routes(self) -> None:
        await self.table.refresh(self.database)
        self._report()

    async def _asked(self) -> None:
        """Load at once the routing version the API waits for (`redirect.barrier`)."""
        assert self.barrier is not None
        if self.barrier.wanted > (self.table.version or 0):
            await self._routes()

    def _report(self) -> None:
        if self.barrier is not None and self.table.version is not None:
            self.barrier.serving(self.barrier_slot, self.table.version)

    async def _salts(self) -> None:
        await self.salts.refresh(self.database)

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        failing = False
        while True:
            try:
                await job()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not failing:
                    log.warning("redirect data plane: %s failed: %s", job.__name__, error)
                failing = True
            await asyncio.sleep(seconds)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.writer.close()
        self.publish_counts()  # the last hits are spooled now
        if self.heartbeat is not None:
            with contextlib.suppress(Exception):  # the database may be gone; the row ages out
                await leave(self.database, self.heartbeat)
        await self.database.dispose()

    # -- the hot path ------------------------------------------------------------------------

    def respond(
        self,
        method: bytes,
        raw_path: bytes,
        raw_query: bytes,
        headers: dict[bytes, bytes],
        peer: str,
    ) -> tuple[int, bytes, bytes]:
        """The `kit.http1` handler: status, header lines and body, with the hit recorded."""
        raw_host = headers.get(b"host", b"")
        if self._answered_from is not self.table.routes:  # a new routing table
            self._answers.clear()
            self._answered_from = self.table.routes
        known = self._answers.get((raw_host, raw_path, raw_query))
        if known is None:
            known = self._answer(raw_host, raw_path, raw_query)
        domain_id, host, logged_path, answer = known
        forwarded = headers.get(b"x-forwarded-for") if self._forwarding else None
        self.writer.add(
            self.recorder.record(
                domain_id,
                host,
                peer,
                forwarded.decode("latin-1") if forwarded else None,
                headers.get(b"user-agent"),
                headers.get(b"referer"),
                logged_path,
            )
        )
        self.served += 1
        return answer

    def _answer(self, raw_host: bytes, raw_path: bytes, raw_query: bytes) -> Answer:
        """What a request for this host, path and query gets, remembered for the next one
        while the routing table stays the same."""
        routes = self._answered_from
        host = self._host_key(raw_host)
        route = routes.get(host)
        path = safe_path(raw_path)
        query = safe_query(raw_query) if raw_query else ""
        answer: tuple[int, bytes, bytes]
        if route is None:
            answer = (404, NOT_FOUND_HEADERS, NOT_FOUND_BODY)
        elif route.page is not None:
            answer = route.page
        else:
            header = b"location: " + location(route, path, query).encode() + b"\r\n"
            answer = (route.status, header, b"")
        known = (
            route.domain_id if route else None,
            host,
            f"{path}?{query}" if query else path,
            answer,
        )
        if len(raw_host) + len(raw_path) + len(raw_query) <= ANSWER_CACHE_KEY_MAX:
            if len(self._answers) >= ANSWER_CACHE_MAX:
                self._answers.clear()
            self._answers[(raw_host, raw_path, raw_query)] = known
        return known

    def _host_key(self, raw_host: bytes) -> str:
        text = raw_host.decode("latin-1")
        return host_key(text.replace("\x00", "") if "\x00" in text else text)

    def freeze_heap(self) -> None:
        """For a process of its own: keep the collector from walking the whole heap during
        requests (full collections were the p99 stalls). Hits are tuples of atoms, never cycles."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)


def spool_dir(settings: Settings) -> Path:
    return settings.data_dir / "redirect-spool"


def spool_writer_process(
    settings: Settings,
    stop: Any,
    counters: DataPlaneCounters | None = None,
    metrics_socket: socket.socket | None = None,
) -> None:
    """The hit writer beside the data plane's workers; `stop` is an Event. It adds what it
    stored to `counters` and, given a socket, answers `/metrics` with them there."""
    set_process_name("hit-writer")
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    run_spool_writer(
        settings.resolved_database_url,
        spool_dir(settings),
        flush_seconds=settings.redirect_hit_flush_seconds,
        batch_size=settings.redirect_hit_batch_size,
        stop=stop.is_set,
        on_written=counters.add_written if counters is not None else None,
        metrics=(
            (metrics_socket, metrics_handler(counters, token))
            if counters is not None and metrics_socket is not None
            else None
        ),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serve_data_plane(plane: DataPlane, host: str, port: int) -> AsyncIterator[str]:
    """Serve `plane` over HTTP on host:port (0 = any free port) on this loop; yields its URL."""
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    server = Http1Server(plane.respond)
    await plane.start()
    try:
        await server.listen(sock)
        display = "127.0.0.1" if host in ("0.0.0.0", "") else host
        display = f"[{display}]" if ":" in display else display
        yield f"http://{display}:{bound_port}"
    finally:
        await server.shutdown(GRACE_SECONDS)
        sock.close()
        # Every answered request is in the writer's buffer now: this writes it all.
        await plane.stop()
