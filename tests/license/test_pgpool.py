"""The fast path's minimal pool: reuse, waiting, and recovery from a lost connection."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from stellwerk.license.pgpool import TinyPool
from stellwerk.runtime import Runtime


async def test_pool_waits_reuses_and_recovers(runtime: Runtime) -> None:
    if runtime.database.dialect != "postgresql":
        pytest.skip("the fast path pool is for PostgreSQL")
    dsn = runtime.database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    pool = TinyPool(dsn, size=2)
    await pool.start(warm=1)
    try:
        # More statements than connections: the rest wait their turn.
        pids = await asyncio.wait_for(
            asyncio.gather(
                *(pool.fetchrow("SELECT pg_backend_pid(), pg_sleep(0.05)") for _ in range(6))
            ),
            timeout=30,
        )
        assert len({row[0] for row in pids}) <= 2
        # A connection killed from outside: that statement fails, the next ones get a new one.
        victim = (await pool.fetchrow("SELECT pg_backend_pid()"))[0]
        killer = await asyncpg.connect(dsn)
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", victim)
        finally:
            await killer.close()
        answers = []
        for _ in range(4):  # bounded
            try:
                answers.append((await pool.fetchrow("SELECT 1"))[0])
            except Exception:  # the statement on the killed connection
                answers.append(None)
        assert answers[1:] == [1, 1, 1]
    finally:
        await pool.close()
