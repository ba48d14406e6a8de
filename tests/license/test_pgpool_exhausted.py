"""The fast path's pool when PostgreSQL has no connection to spare: requests share the
connections the pool already holds instead of failing."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from stellwerk.license import pgpool
from stellwerk.license.pgpool import TinyPool
from stellwerk.runtime import Runtime


async def test_pool_waits_when_the_server_is_out_of_connections(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    if runtime.database.dialect != "postgresql":
        pytest.skip("the fast path pool is for PostgreSQL")
    dsn = runtime.database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    pool = TinyPool(dsn, size=4)
    await pool.start(warm=1)
    connect = asyncpg.connect

    async def exhausted(*_args: Any, **_kwargs: Any) -> Any:
        raise asyncpg.TooManyConnectionsError("sorry, too many clients already")

    monkeypatch.setattr(pgpool.asyncpg, "connect", exhausted)
    try:
        rows = await asyncio.wait_for(
            asyncio.gather(*(pool.fetchrow("SELECT pg_backend_pid()") for _ in range(8))),
            timeout=30,
        )
        assert len({row[0] for row in rows}) == 1  # all on the one connection it had
    finally:
        monkeypatch.setattr(pgpool.asyncpg, "connect", connect)
        await pool.close()

    empty = TinyPool(dsn, size=2)
    monkeypatch.setattr(pgpool.asyncpg, "connect", exhausted)
    with pytest.raises(asyncpg.TooManyConnectionsError):
        await empty.fetchrow("SELECT 1")  # nothing to wait for: the error is the answer
    await empty.close()
