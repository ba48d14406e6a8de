"""Bookkeeping that license clients cause, written in batches off the request path.

Verify refreshes a device's `last_heartbeat` (at most once a minute per device), so do a repeated
activation and a session heartbeat; a heartbeat refreshes its session's `last_heartbeat` too
(when `policy.heartbeat_can_wait` allows). Instead of an UPDATE inside the request, these go into
buffers that a background task writes with one executemany each every `interval` seconds;
stopping the app flushes what is left.

On SQLite a batch of up to `CHUNK` rows is one statement (the rows as one JSON array,
`repository.TOUCH_BATCHES`) in a short transaction (`kit.rawsql.SqliteWriter`) on a worker
thread: SQLite updates the rows while the event loop goes on answering (the interpreter lock is
released for the statement), and the loop only encodes the rows. A batch waits for the write lock
only briefly; one that finds it taken waits for the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from stellwerk.kit.db import sqlite_utc_text
from stellwerk.kit.rawsql import RawQuery, SqliteWriter, compile_query
from stellwerk.license.repository import (
    TOUCH_ACTIVATION,
    TOUCH_BATCHES,
    TOUCH_DEVICE,
    TOUCH_SESSION,
)

log = logging.getLogger(__name__)

CHUNK = 1000  # rows per SQLite statement (and transaction): some milliseconds of a worker thread
BUSY_MS_ROUND = 5  # a periodic round waits this long for SQLite's write lock, then retries later
BUSY_MS_FLUSH = 10_000  # an explicit flush (a graceful stop) waits as long as it must


class TouchBuffer:
    """Device ids whose `last_heartbeat` is due, with the time to write (latest wins)."""

    def __init__(self, *, interval: float = 2.0, max_pending: int = 10_000) -> None:
        self.interval = interval
        self.max_pending = max_pending
        self._pending: dict[int, dt.datetime] = {}
        self._devices: dict[tuple[int, str], tuple[dt.datetime, dt.datetime]] = {}
        self._sessions: dict[int, dt.datetime] = {}
        self._engine: AsyncEngine | None = None
        self._sqlite: SqliteWriter | None = None
        self._batches: dict[str, RawQuery] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None

    def add(self, activation_id: int, at: dt.datetime) -> None:
        self._pending[activation_id] = at
        if len(self._pending) >= self.max_pending:
            self._wake.set()

    def add_device(
        self, license_id: int, hardware_hash: str, at: dt.datetime, *, older_than: dt.datetime
    ) -> None:
        """Refresh the device at `at` if its heartbeat is older than `older_than` by then."""
        self._devices[(license_id, hardware_hash)] = (at, older_than)
        if len(self._devices) >= self.max_pending:
            self._wake.set()

    def add_session(self, session_id: int, at: dt.datetime) -> None:
        self._sessions[session_id] = at
        if len(self._sessions) >= self.max_pending:
            self._wake.set()

    def discard(self) -> None:
        """Forget what is pending (tests empty the tables between cases)."""
        self._pending.clear()
        self._devices.clear()
        self._sessions.clear()

    def start(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            self._sqlite = SqliteWriter(database)
            self._batches = {
                name: compile_query(statement, engine.dialect)
                for name, statement in TOUCH_BATCHES.items()
            }
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="license-touch-buffer")

    async def stop(self) -> None:
        """Stop the writer and flush what is pending (a graceful stop loses nothing)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
        writer, self._sqlite = self._sqlite, None
        if writer is not None:
            writer.close()

    async def flush(self, *, busy_ms: int = BUSY_MS_FLUSH) -> int:
        """Write what is pending; the rows written (0 if the database would not take them:
        they stay for the next round)."""
        if (not self._pending and not self._devices and not self._sessions) or not self._engine:
            return 0
        batch, self._pending = self._pending, {}
        devices, self._devices = self._devices, {}
        sessions, self._sessions = self._sessions, {}
        count = len(batch) + len(devices) + len(sessions)
        try:
            if self._sqlite is not None:
                await self._write_sqlite(self._sqlite, batch, devices, sessions, busy_ms)
            else:
                await self._write(self._engine, batch, devices, sessions)
        except Exception as error:
            # Keep the newest times for the next round rather than losing them.
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                log.debug("SQLite's write lock is taken; %d heartbeats wait a round", count)
            else:
                log.warning("could not write %d heartbeats; retrying", count, exc_info=True)
            for key, at in batch.items():
                self._pending.setdefault(key, at)
            for device, times in devices.items():
                self._devices.setdefault(device, times)
            for key, at in sessions.items():
                self._sessions.setdefault(key, at)
            return 0
        return count

    @staticmethod
    async def _write(
        engine: AsyncEngine,
        touched: Mapping[int, dt.datetime],
        devices: Mapping[tuple[int, str], tuple[dt.datetime, dt.datetime]],
        sessions: Mapping[int, dt.datetime],
    ) -> None:
        async with engine.begin() as connection:
            if touched:
                rows = [{"b_id": key, "b_at": at} for key, at in touched.items()]
                await connection.execute(TOUCH_ACTIVATION, rows)
            if devices:
                device_rows = [
                    {"b_license": license_id, "b_hardware": hardware, "b_at": at, "b_older": older}
                    for (license_id, hardware), (at, older) in devices.items()
                ]
                await connection.execute(TOUCH_DEVICE, device_rows)
            if sessions:
                rows = [{"b_id": key, "b_at": at} for key, at in sessions.items()]
                await connection.execute(TOUCH_SESSION, rows)

    async def _write_sqlite(
        self,
        writer: SqliteWriter,
        touched: Mapping[int, dt.datetime],
        devices: Mapping[tuple[int, str], tuple[dt.datetime, dt.datetime]],
        sessions: Mapping[int, dt.datetime],
        busy_ms: int,
    ) -> None:
        # Each batch statement takes its rows as one JSON array (`TOUCH_BATCHES`), encoded here
        # as the statements would bind them, a chunk at a time: the event loop answers requests
        # between chunks. Rows written before a failure are written again with the rest: the
        # updates only ever move a time forward, so that changes nothing.
        text = sqlite_utc_text
        batches: tuple[tuple[str, list[Any], Callable[[Any], list[Any]]], ...] = (
            ("touch", list(touched.items()), lambda item: [item[0], text(item[1])]),
            (
                "device",
                list(devices.items()),
                lambda item: [*item[0], text(item[1][0]), text(item[1][1])],
            ),
            ("session", list(sessions.items()), lambda item: [item[0], text(item[1])]),
        )
        for name, items, encode in batches:
            for start in range(0, len(items), CHUNK):
                rows = [encode(item) for item in items[start : start + CHUNK]]
                payload = {"b_rows": orjson.dumps(rows).decode()}
                await asyncio.to_thread(
                    writer.executemany, self._batches[name], [payload], busy_ms=busy_ms
                )
        # This connection does not checkpoint by itself (`SqliteWriter`): under client load it
        # may be the only writer, and a growing WAL slows every read down.
        await asyncio.to_thread(writer.checkpoint)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            await self.flush(busy_ms=BUSY_MS_ROUND)


# One per process: the routes and the fast path both feed it.
touches = TouchBuffer()
