"""The redirect data plane: answers every redirect domain, no framework on the hot path.

A request costs a dict lookup on the lower-cased host (port stripped), building `Location`, and
appending one hit to a list. The routing table lives in memory and is reloaded when the routing
version in the database moves (polled every `redirect_refresh_seconds`), so every worker of every
process sees a change within a second. It speaks ASGI (`stellwerk serve`, in-process) and RSGI
(`stellwerk redirect serve`, granian with N workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from stellwerk import migrate
from stellwerk.config import Settings, get_settings
from stellwerk.database import Database
from stellwerk.keyfile import derive_key, load_or_create_master_key
from stellwerk.redirect.hits import (
    HitRecorder,
    HitSpool,
    HitWriter,
    SaltKeeper,
    TrustedProxies,
    run_spool_writer,
)
from stellwerk.redirect.repository import DomainRepository, RoutingStateRepository

log = logging.getLogger(__name__)

SALT_REFRESH_SECONDS = 60.0
HOST_CACHE_MAX = 10_000
NOT_FOUND_BODY = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Not found</title></head>"
    b"<body><h1>Not found</h1><p>No redirect is configured for this host.</p></body></html>"
)
# Bytes a Location path may carry as they are; everything else is percent-encoded.
_SAFE = frozenset(range(0x21, 0x7F)) - {ord('"'), ord("<"), ord(">"), ord("\\"), ord("`")}
_SAFE_BYTES = bytes(sorted(_SAFE))

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    domain_id: int
    status: int
    preserve_path: bool
    target: str  # the configured URL, used as it is without preserve_path
    base: str  # scheme://host[:port]/path without a trailing slash
    query: str  # the target's own query, kept in front of the request's


def make_route(domain_id: int, target_url: str, code: int, preserve_path: bool) -> Route:
    parts = urlsplit(target_url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
    return Route(domain_id, code, preserve_path, target_url, base, parts.query)


def safe_path(raw: bytes) -> str:
    """The request path, always starting with `/`, with anything unsafe percent-encoded."""
    if not raw.startswith(b"/"):
        raw = b"/" + raw
    if not raw.translate(None, _SAFE_BYTES):  # the common case, at C speed
        return raw.decode("ascii")
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def safe_query(raw: str) -> str:
    data = raw.encode("utf-8", "surrogateescape")
    if not data.translate(None, _SAFE_BYTES):
        return raw
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in data)


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
        for domain_id, name, target, code, preserve, include_www, _status in rows:
            route = make_route(domain_id, target, code, preserve)
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
        self.served = 0
        self._hosts: dict[str, str] = {}  # Host header as sent → routing key
        self._forwarding = bool(self.recorder.proxies)  # X-Forwarded-For matters only then

    @classmethod
    def from_settings(
        cls, settings: Settings, *, database: Database | None = None, spool: bool = False
    ) -> DataPlane:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        configured = settings.secret_key.get_secret_value() if settings.secret_key else None
        master_key = load_or_create_master_key(settings.data_dir, configured)
        database = database or Database(settings.resolved_database_url)
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

    async def _routes(self) -> None:
        await self.table.refresh(self.database)

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
        await self.database.dispose()

    # -- the hot path ------------------------------------------------------------------------

    def answer(
        self,
        raw_host: str,
        raw_path: bytes,
        query: str,
        peer: str,
        forwarded_for: str | None,
        user_agent: str | None,
        referer: str | None,
    ) -> tuple[int, str | None]:
        """Status and Location for a request, with its hit recorded."""
        host = self._hosts.get(raw_host)
        if host is None:
            host = host_key(raw_host.replace("\x00", "") if "\x00" in raw_host else raw_host)
            if len(self._hosts) > HOST_CACHE_MAX:
                self._hosts.clear()
            self._hosts[raw_host] = host
        route = self.table.routes.get(host)
        path = safe_path(raw_path)
        if query:
            query = safe_query(query)
        full_path = f"{path}?{query}" if query else path
        self.writer.add(
            self.recorder.record(
                domain_id=route.domain_id if route else None,
                host=host,
                peer=peer,
                forwarded_for=forwarded_for,
                user_agent=user_agent,
                referer=referer,
                path=full_path,
            )
        )
        self.served += 1
        if route is None:
            return 404, None
        return route.status, location(route, path, query)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        host = forwarded = agent = referer = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"user-agent":
                agent = value.decode("latin-1")
            elif name == b"referer":
                referer = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
        client = scope.get("client")
        status, target = self.answer(
            host or "",
            scope.get("raw_path") or scope["path"].encode(),
            scope["query_string"].decode("latin-1"),
            client[0] if client else "",
            forwarded,
            agent,
            referer,
        )
        if target is None:
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(NOT_FOUND_BODY)).encode()),
            ]
            body = b"" if scope["method"] == "HEAD" else NOT_FOUND_BODY
        else:
            headers = [(b"location", target.encode()), (b"content-length", b"0")]
            body = b""
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # RSGI (granian): the fastest interface granian offers.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.start())
        # A process of its own: keep the collector from walking the whole heap during requests
        # (full collections were the p99 stalls). Hits are tuples of atoms, never cycles.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.stop())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        headers = scope.headers
        client: str = scope.client
        peer = client.rsplit(":", 1)[0].strip("[]") if ":" in client else client
        status, target = self.answer(
            headers.get("host") or scope.authority or "",
            scope.path.encode("latin-1", "replace"),
            scope.query_string,
            peer,
            headers.get("x-forwarded-for") if self._forwarding else None,
            headers.get("user-agent"),
            headers.get("referer"),
        )
        if target is None:
            body = b"" if scope.method == "HEAD" else NOT_FOUND_BODY
            proto.response_bytes(
                status,
                [
                    ("content-type", "text/html; charset=utf-8"),
                    ("content-length", str(len(NOT_FOUND_BODY))),
                ],
                body,
            )
        else:
            proto.response_empty(status, [("location", target)])


def spool_dir(settings: Settings) -> Path:
    return settings.data_dir / "redirect-spool"


def rsgi_app() -> DataPlane:
    """The granian factory of `stellwerk redirect serve` (settings from the environment)."""
    return DataPlane.from_settings(get_settings(), spool=True)


def spool_writer_process(stop: Any) -> None:
    """The writer process beside the granian workers; `stop` is a multiprocessing Event."""
    settings = get_settings()
    run_spool_writer(
        settings.resolved_database_url,
        spool_dir(settings),
        flush_seconds=settings.redirect_hit_flush_seconds,
        batch_size=settings.redirect_hit_batch_size,
        stop=stop.is_set,
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
async def redirect_listener(settings: Settings, urls: dict[str, Any]) -> AsyncIterator[None]:
    """`stellwerk serve`'s data plane listener on `STELLWERK_REDIRECT_PORT`, in this process."""
    plane = DataPlane.from_settings(settings)
    # Listeners start before the app migrates; the data plane's first read needs the tables.
    await migrate.upgrade_async(settings.resolved_database_url)
    async with serve_data_plane(plane, settings.host, settings.redirect_port) as url:
        urls["redirect"] = url
        yield


@asynccontextmanager
async def serve_data_plane(plane: DataPlane, host: str, port: int) -> AsyncIterator[str]:
    """Serve `plane` over HTTP on host:port (0 = any free port); yields its URL."""
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        plane,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is judged by TrustedProxies, not uvicorn
        date_header=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    await plane.start()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.02)
        display = "127.0.0.1" if host in ("0.0.0.0", "") else host
        display = f"[{display}]" if ":" in display else display
        yield f"http://{display}:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
        # Every answered request is in the writer's buffer now: this writes it all.
        await plane.stop()
