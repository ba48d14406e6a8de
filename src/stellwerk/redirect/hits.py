"""Recording hits without keeping addresses, and writing them in batches off the request path.

The request path only appends a finished `HitRow` (daily salted hash, country, no IP) to a list.
`HitWriter` flushes that list by size or time; while the database is unreachable it keeps the rows
(bounded in memory, the rest spilled to files in the data directory) and writes them once it is
back. Stopping flushes everything, or spills it for the next start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import iptocc
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import DataError, IntegrityError

from stellwerk.database import Database
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
        self._window_started = time.monotonic()
        self._day = -1
        self._salt = b""
        self._generation = -1
        self._bots: dict[str | None, bool] = {}

    def record(
        self,
        *,
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
        epoch_day = int(now // 86_400)
        if epoch_day != self._day or self.salts.generation != self._generation:
            self._day, self._generation = epoch_day, self.salts.generation
            self._salt = self.salts.salt_for(utc_day(now))
        ip_hash = hashlib.sha256(ip.encode() + self._salt).hexdigest()
        try:
            country = iptocc.country_code(ip) or ""
        except ValueError:
            country = ""
        agent = clean_text(user_agent, MAX_USER_AGENT)
        is_bot = self._bots.get(agent)
        if is_bot is None:
            is_bot = agent is None or _BOT_AGENT.search(agent) is not None
            if len(self._bots) > CACHE_MAX:
                self._bots.clear()
            self._bots[agent] = is_bot
        if self._scanning(ip_hash, path):
            is_bot = True
        # tuple.__new__ skips the named tuple's Python-level constructor (hot path).
        return tuple.__new__(
            HitRow,
            (
                domain_id,
                host[:MAX_HOST],
                int(now * 1000),
                ip_hash,
                country if len(country) == 2 else None,
                agent,
                clean_text(referer, MAX_REFERER) if referer else None,
                path
                if len(path) <= MAX_PATH and "\x00" not in path
                else clean_text(path, MAX_PATH),
                is_bot,
            ),
        )

    def _scanning(self, ip_hash: str, path: str) -> bool:
        now = time.monotonic()
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
        await self._replay_spool(database)

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
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"hits-{os.getpid()}-{time.time_ns()}.jsonl"
        temporary = self.spool_dir / f".{name}.tmp"
        with temporary.open("wb") as handle:
            for row in rows:
                handle.write(orjson.dumps(row.as_dict()) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.rename(self.spool_dir / name)
        self.spilled += len(rows)
        log.warning("spilled %d hits to %s", len(rows), name)

    async def _replay_spool(self, database: Database) -> None:
        if not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("hits-*.jsonl")):
            claimed = path.with_name(f".replay-{os.getpid()}-{path.name}")
            try:
                path.rename(claimed)  # atomic: one worker replays each file
            except OSError:
                continue
            rows = [
                HitRow(**orjson.loads(line)) for line in claimed.read_bytes().splitlines() if line
            ]
            for start in range(0, len(rows), self.batch_size):
                if not await self._write(database, rows[start : start + self.batch_size]):
                    self._spill(rows[start:])  # keep what is left for the next attempt
                    claimed.unlink()
                    return
            claimed.unlink()
            log.info("wrote %d spilled hits from %s", len(rows), path.name)

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
