"""The batched bookkeeping: the rules of each refresh on both databases (on SQLite one statement
per batch on a worker thread); a round that finds SQLite's write lock taken leaves the rows for
the next one."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import select

from stellwerk.kit.time import as_utc, utc_now
from stellwerk.license import bookkeeping
from stellwerk.license.bookkeeping import BUSY_MS_ROUND, touches
from stellwerk.models import LicenseActivation, LicenseSession
from stellwerk.runtime import Runtime
from tests.license.factories import create_client_config, create_license


async def test_refreshes_move_forward_only_live_seats_and_open_sessions(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bookkeeping, "CHUNK", 2)  # several batches per kind
    lic = await create_license(runtime)
    config = await create_client_config(runtime, "Bookkeeping App")
    now = utc_now()
    old, newer = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    async with runtime.database.session() as session:
        devices = {
            name: LicenseActivation(
                license_id=lic.id, hardware_hash=name, last_heartbeat=heartbeat, is_active=active
            )
            for name, heartbeat, active in (
                ("old-1", old, True),
                ("old-2", old, True),
                ("old-3", old, True),
                ("newer", newer, True),
                ("by-session", old, True),
                ("inactive", old, False),
                ("recent", now - dt.timedelta(seconds=5), True),
            )
        }
        session.add_all(devices.values())
        sessions = {
            name: LicenseSession(
                token_hash=f"{name:0>64}",
                license_id=lic.id,
                client_config_id=config.id,
                hardware_hash="old-1",
                last_heartbeat=heartbeat,
                ended_at=ended,
            )
            for name, heartbeat, ended in (
                ("open", old, None),
                ("ended", old, old),
                ("ahead", newer, None),
            )
        }
        session.add_all(sessions.values())
        await session.flush()
        device_ids = {name: device.id for name, device in devices.items()}
        session_ids = {name: row.id for name, row in sessions.items()}
    for name in ("old-1", "old-2", "old-3", "newer"):
        touches.add(device_ids[name], now)
    older_than = now - dt.timedelta(seconds=60)
    for name in ("by-session", "inactive", "recent"):
        touches.add_device(lic.id, name, now, older_than=older_than)
    for name in session_ids:
        touches.add_session(session_ids[name], now)
    assert await touches.flush() == 10

    async with runtime.database.session() as session:
        device_times = dict(
            (
                await session.execute(
                    select(LicenseActivation.hardware_hash, LicenseActivation.last_heartbeat)
                )
            )
            .tuples()
            .all()
        )
        session_times = dict(
            (await session.execute(select(LicenseSession.id, LicenseSession.last_heartbeat)))
            .tuples()
            .all()
        )

    def same(stored: dt.datetime | None, expected: dt.datetime) -> bool:
        return stored is not None and abs(as_utc(stored) - expected) < dt.timedelta(milliseconds=1)

    for name in ("old-1", "old-2", "old-3", "by-session"):
        assert same(device_times[name], now), name
    assert same(device_times["newer"], newer)  # never backwards
    assert same(device_times["inactive"], old)  # not a seat any more
    assert same(device_times["recent"], now - dt.timedelta(seconds=5))  # refreshed lately
    assert same(session_times[session_ids["open"]], now)
    assert same(session_times[session_ids["ended"]], old)
    assert same(session_times[session_ids["ahead"]], newer)


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
