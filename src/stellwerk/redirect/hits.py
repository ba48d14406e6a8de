"""Recording hits without keeping addresses, and writing them in batches off the request path.

The request path only appends a finished `HitRow` (daily salted hash, country, no IP) to a list.
Two ways take it from there:

- `HitWriter` (the data plane inside `stellwerk serve`) flushes that list from a thread of its own
  by size or time; while the database is unreachable it keeps the rows (bounded in memory, the
  rest spilled to spool files in the data directory) and writes them once it is back.
- `HitSpool` (the worker processes of `stellwerk redirect serve`) only hands each batch to a spool
  file; one writer process (`run_spool_writer`) stores the files. No database code and no second
  thread compete with requests for the interpreter: the writer thread cost the workers about 40 %
  of their throughput.

Stopping flushes everything, or leaves it in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import iptocc
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import DataError, IntegrityError

from stellwerk.database import Database
from stellwerk.kit.http1 import Handler, Http1Server
from stellwerk.redirect import analytics
from stellwerk.redirect.repository import HitRepository, HitRow, SaltRepository

log = logging.getLogger(__name__)

MAX_PATH = 2048
MAX_USER_AGENT = 512
MAX_REFERER = 1024
MAX_HOST = 253

_BOT_AGENT = re.compile(
    r"bot|crawl|spider|slurp|scan|curl|wget|python|httpx|aiohttp|go-http|java/|okhttp|libwww|"
    r"nikto|sqlmap|masscan|zgrab|nmap|headless|phantom|monitor|uptime|feedfetcher|facebookexternal",
    re.IGNORECASE,
)
# A visitor asking for this many different paths within one window is a scanner.
SCANNER_PATHS = 20
SCANNER_WINDOW_SECONDS = 60.0
SCANNER_TRACKED_MAX = 50_000
CACHE_MAX = 10_000


def clean_text(raw: bytes | str | None, limit: int) -> str | None:
    """Header text as storable UTF-8: no NUL bytes, bounded length."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit] if len(text) > limit else text or None


def utc_day(now: float | None = None) -> dt.date:
    return dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).date()


class SaltKeeper:
    """The random salt of each UTC day, shared by every worker through the database.

    Salts are encrypted at rest and deleted after the retention period, so a stored hash can no
    longer be tested against guessed addresses."""

    def __init__(self, key: bytes, *, retention_days: int) -> None:
        self._aead = AESGCM(key)
        self.retention_days = max(1, retention_days)
        self._salts: dict[dt.date, bytes] = {}
        self.generation = 0  # bumped whenever a salt changes, so hashers pick it up

    def salt_for(self, day: dt.date) -> bytes:
        salt = self._salts.get(day)
        if salt is None:
            # The database was unreachable at midnight: a salt of this process's own, so
            # hashing never waits for the database; it is offered to the others later.
            salt = secrets.token_bytes(32)
            self._salts[day] = salt
            self.generation += 1
        return salt

    def _encrypt(self, salt: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, salt, b"redirect-salt")

    def _decrypt(self, blob: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], b"redirect-salt")

    async def refresh(self, database: Database, *, prune: bool = True) -> None:
        """Make sure today's and tomorrow's salts exist and are loaded; drop expired ones."""
        today = utc_day()
        days = [today, today + dt.timedelta(days=1)]
        async with database.session() as session:
            repository = SaltRepository(session)
            for day in days:
                candidate = self._salts.get(day) or secrets.token_bytes(32)
                await repository.add_if_missing(day, self._encrypt(candidate))
            if prune:
                oldest_kept = today - dt.timedelta(days=self.retention_days - 1)
                await repository.delete_before(oldest_kept)
            loaded = {day: await repository.get(day) for day in days}
        for day, blob in loaded.items():
            if blob is not None:
                salt = self._decrypt(blob)
                if self._salts.get(day) != salt:
                    self._salts[day] = salt
                    self.generation += 1
        oldest = today - dt.timedelta(days=self.retention_days)
        for day in [d for d in self._salts if d < oldest]:
            del self._salts[day]


class TrustedProxies:
    def __init__(self, spec: str) -> None:
        self.networks = [
            ipaddress.ip_network(item.strip(), strict=False)
            for item in spec.split(",")
            if item.strip()
        ]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The peer; behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
        if not forwarded_for or not self.networks or not self.trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if not hop:
                continue
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer
            if not self.trusted(hop):
                return hop
        return peer


class HitRecorder:
    """Turns a request into a `HitRow`. The address is hashed here and goes no further."""

    def __init__(self, salts: SaltKeeper, proxies: TrustedProxies) -> None:
        self.salts = salts
        self.proxies = proxies
        self._paths: dict[str, set[str]] = {}
        self._window_started = time.time()
        self._day_ends = 0.0  # when today's salt (UTC) stops being the one to hash with
        self._salt = b""
        self._generation = -1
        # Raw user agent → (storable text, bot?): visitors send few distinct agents.
        self._agents: dict[bytes | str | None, tuple[str | None, bool]] = {}
        # Address → (hash with today's salt, country), in memory only: a visitor's requests
        # after the first skip hashing and the GeoIP lookup. Emptied when the salt changes.
        self._visitors: dict[str, tuple[str, str | None]] = {}

    def _visitor(self, ip: str) -> tuple[str, str | None]:
        ip_hash = hashlib.sha256(ip.encode() + self._salt).hexdigest()
        try:
            country = iptocc.country_code(ip) or None
        except ValueError:
            country = None
        visitor = (ip_hash, country if country and len(country) == 2 else None)
        if len(self._visitors) >= CACHE_MAX:
            self._visitors.clear()
        self._visitors[ip] = visitor
        return visitor

    def record(
        self,
        domain_id: int | None,
        host: str,
        peer: str,
        forwarded_for: str | None,
        user_agent: bytes | str | None,
        referer: bytes | str | None,
        path: str,
    ) -> HitRow:
        now = time.time()
        ip = self.proxies.client_ip(peer, forwarded_for) if forwarded_for else peer
        if now >= self._day_ends or self.salts.generation != self._generation:
            self._day_ends = (now // 86_400 + 1) * 86_400
            self._generation = self.salts.generation
            self._salt = self.salts.salt_for(utc_day(now))
            self._visitors.clear()  # hashes of the old salt
        visitor = self._visitors.get(ip)
        if visitor is None:
            visitor = self._visitor(ip)
        ip_hash, country = visitor
        known = self._agents.get(user_agent)
        if known is None:
            cleaned = clean_text(user_agent, MAX_USER_AGENT)
            known = (cleaned, cleaned is None or _BOT_AGENT.search(cleaned) is not None)
            if len(self._agents) > CACHE_MAX:
                self._agents.clear()
            self._agents[user_agent] = known
        agent, is_bot = known
        if not is_bot and self._scanning(ip_hash, path, now):
            is_bot = True
        # tuple.__new__ skips the named tuple's Python-level constructor (hot path).
        return tuple.__new__(
            HitRow,
            (
                domain_id,
                host[:MAX_HOST],
                int(now * 1000),
                ip_hash,
                country,
                agent,
                clean_text(referer, MAX_REFERER) if referer else None,
                path
                if len(path) <= MAX_PATH and "\x00" not in path
                else clean_text(path, MAX_PATH),
                is_bot,
            ),
        )

    def _scanning(self, ip_hash: str, path: str, now: float) -> bool:
        if now - self._window_started > SCANNER_WINDOW_SECONDS:
            self._paths.clear()
            self._window_started = now
        seen = self._paths.get(ip_hash)
        if seen is None:
            if len(self._paths) >= SCANNER_TRACKED_MAX:
                return False
            seen = self._paths[ip_hash] = set()
        if len(seen) <= SCANNER_PATHS:
            seen.add(path)
        return len(seen) > SCANNER_PATHS


SPOOL_PATTERN = "hits-*.json"
WRITER_NICENESS = 19


def write_spool_file(spool_dir: Path, rows: Sequence[HitRow], *, durable: bool) -> None:
    """One batch as a JSON array of arrays, renamed into place so readers never see half a file.

    `durable` syncs it to disk (rows kept through an outage); a hand-off to the writer process
    only has to survive this process, which the page cache does."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = f"hits-{os.getpid()}-{time.time_ns()}.json"
    temporary = spool_dir / f".{name}.tmp"
    with temporary.open("wb") as handle:
        handle.write(orjson.dumps([tuple(row) for row in rows]))
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    temporary.rename(spool_dir / name)


def read_spool_file(path: Path) -> list[HitRow]:
    return [HitRow._make(row) for row in orjson.loads(path.read_bytes())]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reclaim_abandoned(spool_dir: Path) -> None:
    """Put back files a replaying process claimed and then died with (they were not written)."""
    if not spool_dir.is_dir():
        return
    for claimed in spool_dir.glob(".replay-*-hits-*.json"):
        _, pid, original = claimed.name.split("-", 2)
        if pid.isdecimal() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                claimed.rename(claimed.with_name(original))


class HitSpool:
    """The request side of `stellwerk redirect serve`: batches of hits go to spool files.

    A batch is handed off when it is full or every `flush_seconds`, on the worker's own loop;
    serialising and writing a batch of 1000 costs well under a millisecond."""

    def __init__(self, spool_dir: Path, *, flush_seconds: float, batch_size: int) -> None:
        self.spool_dir = spool_dir
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self._buffer: list[HitRow] = []
        self._task: asyncio.Task[None] | None = None
        self.spooled = 0
        self.spilled = 0  # the writer process keeps outages on disk; nothing spills here

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, hit: HitRow) -> None:
        buffer = self._buffer
        buffer.append(hit)
        if len(buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            write_spool_file(self.spool_dir, batch, durable=False)
        except OSError:
            self._buffer[:0] = batch  # a full disk: keep them and try again later
            log.exception("cannot hand hits to the spool")
            return
        self.spooled += len(batch)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._every())

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()


class HitWriter:
    """Writes hits from a thread of its own, with its own event loop and database engine.

    The serving loop never runs database code for hits: it appends to a list, and this thread
    swaps batches out and writes them (research: inline writes stall requests for the length of a
    batch)."""

    def __init__(
        self,
        database_url: str,
        *,
        spool_dir: Path,
        flush_seconds: float = 0.5,
        batch_size: int = 5000,
        buffer_max: int = 200_000,
    ) -> None:
        self.database_url = database_url
        self.spool_dir = spool_dir
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.buffer_max = buffer_max
        self._buffer: list[HitRow] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.close_timeout = 10.0
        self.database_ok = True
        self.written = 0
        self.spilled = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, hit: HitRow) -> None:
        buffer = self._buffer
        buffer.append(hit)
        if len(buffer) == self.batch_size:  # once per batch: Event.set() is not free
            self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._thread_main, name="redirect-hit-writer", daemon=True
            )
            self._thread.start()

    def _thread_main(self) -> None:
        asyncio.run(self._thread_loop())

    async def _thread_loop(self) -> None:
        database = Database(self.database_url)
        loop = asyncio.get_running_loop()
        analytics.warm_up()
        try:
            while not self._stopping.is_set():
                await loop.run_in_executor(None, self._wake.wait, self.flush_seconds)
                self._wake.clear()
                try:
                    await self._flush(database)
                except Exception:
                    log.exception("hit writer failed")
            await self._drain(database)
        finally:
            await database.dispose()

    async def _flush(self, database: Database) -> None:
        """Write what is buffered (and earlier spilled files); keep it if the database is down."""
        while self._buffer:
            batch = self._buffer[: self.batch_size]
            if not await self._write(database, batch):
                self._spill_excess()
                return
            del self._buffer[: len(batch)]
        await self.replay_spool(database)

    async def _write(self, database: Database, batch: Sequence[HitRow]) -> bool:
        try:
            async with database.session() as session:
                await HitRepository(session).write_batch(batch)
        except (DataError, IntegrityError):
            # Not an outage: some row is unstorable. Write row by row so one bad row cannot
            # block every hit behind it; the bad ones are dropped (and counted in the log).
            dropped = 0
            for row in batch:
                try:
                    async with database.session() as session:
                        await HitRepository(session).write_batch([row])
                except (DataError, IntegrityError):
                    dropped += 1
            log.error("dropped %d unstorable hits", dropped)
        except Exception as error:
            if self.database_ok:
                log.warning(
                    "cannot write hits, keeping them until the database is back: %s",
                    type(error).__name__,
                )
            self.database_ok = False
            return False
        if not self.database_ok:
            log.info("the database is back; writing the kept hits")
        self.database_ok = True
        self.written += len(batch)
        return True

    def _spill_excess(self) -> None:
        excess = len(self._buffer) - self.buffer_max
        if excess > 0:
            rows = self._buffer[:excess]
            self._spill(rows)
            del self._buffer[: len(rows)]

    def _spill(self, rows: Sequence[HitRow]) -> None:
        if not rows:
            return
        write_spool_file(self.spool_dir, rows, durable=True)
        self.spilled += len(rows)
        log.warning("spilled %d hits to %s", len(rows), self.spool_dir)

    async def replay_spool(self, database: Database) -> int:
        """Write the spool files (spilled or handed off), oldest first. The number of files
        left behind because the database would not take them."""
        if not self.spool_dir.is_dir():
            return 0
        for path in sorted(self.spool_dir.glob(SPOOL_PATTERN)):
            claimed = path.with_name(f".replay-{os.getpid()}-{path.name}")
            try:
                path.rename(claimed)  # atomic: one process replays each file
            except OSError:
                continue
            rows = read_spool_file(claimed)
            for start in range(0, len(rows), self.batch_size):
                if not await self._write(database, rows[start : start + self.batch_size]):
                    self._spill(rows[start:])  # keep what is left for the next attempt
                    claimed.unlink()
                    return len(list(self.spool_dir.glob(SPOOL_PATTERN)))
            claimed.unlink()
            log.debug("wrote %d spooled hits from %s", len(rows), path.name)
        return 0

    async def _drain(self, database: Database) -> None:
        """On stop: write everything, retrying briefly; spill what the database will not take."""
        deadline = time.monotonic() + self.close_timeout
        while self._buffer and time.monotonic() < deadline:
            await self._flush(database)
            if self._buffer:
                await asyncio.sleep(0.2)
        if self._buffer:
            self._spill(self._buffer)
            self._buffer.clear()

    async def close(self) -> None:
        """Stop the thread after it has written (or spilled) every buffered hit."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        await asyncio.to_thread(thread.join, self.close_timeout + 30)
        self._thread = None


def run_spool_writer(
    database_url: str,
    spool_dir: Path,
    *,
    flush_seconds: float,
    batch_size: int,
    stop: Callable[[], bool],
    close_timeout: float = 30.0,
    on_written: Callable[[int], None] | None = None,
    metrics: tuple[socket.socket, Handler] | None = None,
) -> None:
    """The writer process of `stellwerk redirect serve`: store spool files until told to stop,
    then until the spool is empty (or `close_timeout` passes; what is left waits for the next
    start). `on_written` hears how many hits each round stored; `metrics` is a listening socket
    and the handler that answers there (the data plane's `/metrics`).

    It ignores SIGINT and SIGTERM, which a terminal or systemd send to the whole process group:
    it must outlive the workers, which hand their last hits over while they stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Answering comes first: under full load the writer falls behind (the spool is on disk) and
    # catches up as soon as the workers leave it a share of the CPU.
    os.nice(WRITER_NICENESS)
    parent = os.getppid()
    asyncio.run(
        _spool_writer_loop(
            database_url,
            spool_dir,
            flush_seconds,
            batch_size,
            stop,
            lambda: os.getppid() != parent,
            close_timeout,
            on_written,
            metrics,
        )
    )


async def _spool_writer_loop(
    database_url: str,
    spool_dir: Path,
    flush_seconds: float,
    batch_size: int,
    stop: Callable[[], bool],
    orphaned: Callable[[], bool],
    close_timeout: float,
    on_written: Callable[[int], None] | None = None,
    metrics: tuple[socket.socket, Handler] | None = None,
) -> None:
    server = None
    if metrics is not None:  # first: a scrape waits for nothing else
        server = Http1Server(metrics[1])
        await server.listen(metrics[0])
    writer = HitWriter(database_url, spool_dir=spool_dir, batch_size=batch_size)
    database = Database(database_url)
    reclaim_abandoned(spool_dir)
    analytics.warm_up()
    counted = 0

    def count() -> None:
        nonlocal counted
        if on_written is not None:
            on_written(writer.written - counted)
        counted = writer.written

    try:
        while not stop() and not orphaned():
            try:
                await writer.replay_spool(database)
            except Exception:
                log.exception("hit writer failed")
            count()
            await asyncio.sleep(flush_seconds)
        deadline = time.monotonic() + close_timeout
        while time.monotonic() < deadline:
            try:
                if not await writer.replay_spool(database):
                    break
            except Exception:
                log.exception("hit writer failed")
            count()
            await asyncio.sleep(0.2)
    finally:
        count()
        if server is not None:
            await server.shutdown(1.0)
        await database.dispose()
