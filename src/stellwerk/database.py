"""Engines and sessions. The request owns the transaction: it commits on success, rolls back on
error, and only then runs work registered with `after_commit` (such as enqueueing an operation)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from stellwerk.exceptions import ValidationFailed

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_write_before_savepoint)
    else:
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    event.listen(engine.sync_engine, "handle_error", _refuse_unstorable_input)
    return engine


OUT_OF_RANGE = "out_of_range"


def _refuse_unstorable_input(context: ExceptionContext) -> None:
    """Input the database cannot hold is the caller's mistake, not the server's: an integer
    beyond the column (PostgreSQL INTEGER is 32 bits, SQLite's 64; it names no row either), or
    text with NUL characters (PostgreSQL refuses them in text and JSON)."""
    for error in causes(context.original_exception):
        if isinstance(error, OverflowError):
            raise ValidationFailed(
                "A number is out of range", code=OUT_OF_RANGE
            ) from context.original_exception
        if sqlstate(error) in _UNSTORABLE_TEXT:
            raise ValidationFailed(
                "Text must not contain NUL characters", code="invalid_text"
            ) from context.original_exception


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """`error`, then what caused it (`__cause__`, or a SQLAlchemy error's `orig`), in turn."""
    while error is not None:
        yield error
        error = error.__cause__ or getattr(error, "orig", None)


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE a database driver put on `error` itself (asyncpg's adapted errors carry
    it), if any."""
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


# character_not_in_repertoire (NUL in text), untranslatable_character (\u0000 in JSON)
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_write_before_savepoint(connection: Connection, _name: str) -> None:
    """Open the transaction as a writer (`BEGIN IMMEDIATE`) when a savepoint would be its first
    statement.

    The sqlite3 module begins a transaction only before a statement that writes; reads before
    it run on their own. A `SAVEPOINT` outside a transaction, though, opens a deferred one
    itself, which then goes wrong in two ways:
    - anything it reads first (the schema, a foreign key's parent) starts a read transaction,
      and a read transaction that then wants to write while another connection writes fails at
      once with "database is locked": SQLite waits (busy timeout) only for a transaction that
      holds no snapshot yet;
    - releasing the savepoint would commit the whole transaction, the unit of work's later
      writes in a transaction of their own.
    Taking the write lock first (waiting for it like any write) avoids both. A savepoint is
    only ever opened around a write, so this takes the lock no sooner than the write would."""
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Health checks ask the database at most this often, however many arrive.
REACHABLE_MAX_AGE = 1.0
REACHABLE_TIMEOUT = 5.0


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reachable = False
        self._checked_at: float | None = None
        self._check: asyncio.Task[bool] | None = None

    async def reachable(self, max_age: float = REACHABLE_MAX_AGE) -> bool:
        """Whether `SELECT 1` succeeds, asked at most once per `max_age` seconds however many
        callers ask: a monitor polling /health, or many at once, cost one query a second.

        Callers get the last answer while the next check runs: under load, a check waits for
        the database and the event loop, and no request should wait with it."""
        if self._checked_at is not None and time.monotonic() - self._checked_at < max_age:
            return self._reachable
        loop = asyncio.get_running_loop()
        if self._check is None or self._check.get_loop() is not loop:  # none, or a closed loop's
            self._check = loop.create_task(self._recheck())
        if self._checked_at is not None:
            return self._reachable
        return await asyncio.shield(self._check)  # the first check of the process: wait for it

    async def _recheck(self) -> bool:
        try:
            self._reachable = await self._ping()
            self._checked_at = time.monotonic()
        finally:
            self._check = None
        return self._reachable

    async def _ping(self) -> bool:
        try:
            async with asyncio.timeout(REACHABLE_TIMEOUT), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure means "not reachable"; the reason is logged elsewhere
            return False
        return True

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on error, then run after-commit work."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                for callback in session.info.pop("after_rollback", []):
                    try:
                        await callback()
                    except Exception:  # the original error is what the caller must see
                        log.exception("work registered to run after a rollback failed")
                raise
            await session.commit()
        session.info.pop("after_rollback", None)
        for callback in session.info.pop("after_commit", []):
            await callback()

    async def dispose(self) -> None:
        check, self._check = self._check, None
        if check is not None:
            check.cancel()
            await asyncio.gather(check, return_exceptions=True)
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault("after_commit", []).append(callback)


def after_rollback(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has rolled back (never if it commits):
    for what must be written although the unit of work failed (it writes in its own)."""
    session.info.setdefault("after_rollback", []).append(callback)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.session() as session:
        yield session


# Ends before the response is sent, so a failed commit becomes an error response, not a lie.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
