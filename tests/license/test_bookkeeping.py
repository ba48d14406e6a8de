"""The batched bookkeeping on SQLite: written from the event loop's thread in short
transactions; a round that finds the write lock taken leaves the rows for the next one."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import select

from stellwerk.kit.time import as_utc, utc_now
from stellwerk.license.bookkeeping import BUSY_MS_ROUND, touches
from stellwerk.models import LicenseActivation
from stellwerk.runtime import Runtime
from tests.license.factories import create_license


async def test_a_taken_write_lock_delays_the_batch(runtime: Runtime) -> None:
    if runtime.database.dialect != "sqlite":
        pytest.skip("SQLite's write lock")
    lic = await create_license(runtime)
    long_ago = utc_now() - dt.timedelta(hours=1)
    async with runtime.database.session() as session:
        device = LicenseActivation(license_id=lic.id, hardware_hash="hw", last_heartbeat=long_ago)
        session.add(device)
        await session.flush()
        device_id = device.id
    now = utc_now()
    touches.add(device_id, now)
    path = runtime.database.engine.url.database
    assert path is not None
    with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer (the hit writer, the CLI) holds it
        assert await touches.flush(busy_ms=BUSY_MS_ROUND) == 0
        other.execute("ROLLBACK")
    assert await touches.flush() == 1  # the next round

    async with runtime.database.session() as session:
        stored = await session.scalar(
            select(LicenseActivation.last_heartbeat).where(LicenseActivation.id == device_id)
        )
    assert stored is not None
    assert abs(as_utc(stored) - now) < dt.timedelta(milliseconds=1)
