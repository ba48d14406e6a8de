"""A minimal asyncpg connection pool for the license fast path.

asyncpg's Pool costs about 55 µs per acquire/release on this path (proxies, holders, the inactive
timer), a quarter of a whole verification. The fast path runs single statements in autocommit,
leaving no session state behind, so a list of connections handed out last-in first-out and a
queue of waiters is all it needs. A connection whose statement fails or is interrupted is closed,
not reused; a new one is opened when needed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import asyncpg  # type: ignore[import-untyped]


class TinyPool:
    def __init__(self, dsn: str, *, size: int = 10) -> None:
        self.dsn = dsn
        self.size = size
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._open = 0  # connections open or being opened
        self._closed = False

    async def start(self, warm: int = 2) -> None:
        for _ in range(min(warm, self.size)):
            self._idle.append(await self._connect())

    async def _connect(self) -> Any:
        self._open += 1
        try:
            return await asyncpg.connect(self.dsn)
        except BaseException:
            self._open -= 1
            raise

    async def _acquire(self) -> Any:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._open -= 1
        if self._closed:
            raise asyncpg.InterfaceError("the pool is closed")
        if self._open < self.size:
            try:
                return await self._connect()
            except asyncpg.TooManyConnectionsError:
                if self._open == 0:
                    raise
                # The server has no connection to spare (max_connections is shared with every
                # other client): wait for one of ours rather than fail the request.
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # handed over as we were cancelled: pass it on
            raise

    def _release(self, connection: Any) -> None:
        if connection.is_closed() or self._closed:
            if not connection.is_closed():
                connection.terminate()
            self._open -= 1
            if self._waiters and not self._closed:
                asyncio.get_running_loop().create_task(self._open_for_waiter())
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    async def _open_for_waiter(self) -> None:
        try:
            connection = await self._connect()
        except Exception as error:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
                    return
            return
        self._release(connection)

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        connection = await self._acquire()
        try:
            result = await getattr(connection, method)(query, *args)
        except BaseException:
            # Failed or interrupted: the connection's state is unknown (a server that ended the
            # session answers with a PostgresError too). The fixed statements here do not fail
            # otherwise, so a fresh connection costs nothing in the common case.
            connection.terminate()
            self._release(connection)
            raise
        self._release(connection)
        return result

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self._run("fetchrow", query, *args)

    async def fetch(self, query: str, *args: Any) -> Any:
        return await self._run("fetch", query, *args)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the pool is closed"))
        self._waiters.clear()
        for connection in idle:
            self._open -= 1
            try:
                await asyncio.wait_for(connection.close(), timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                connection.terminate()
