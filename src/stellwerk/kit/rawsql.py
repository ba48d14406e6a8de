"""SQLAlchemy statements compiled once for a raw driver, and connections to SQLite used on the
event loop's thread.

A hot path that skips the ORM still runs the statements its repository defines: `compile_query`
compiles one for the engine's dialect (asyncpg's `$1`, sqlite3's `?`) and keeps the column
types' conversions, so a raw row reads as the ORM would read it (SQLite's dates and booleans,
UTC timestamps).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Update
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None
MMAP_BYTES = 1 << 30  # a read connection maps up to this much of the database file
CACHE_KIB = 256 * 1024  # and keeps up to this many KiB of pages in its cache


@dataclass(frozen=True)
class RawQuery:
    sql: str
    names: tuple[str, ...]  # the bind parameters in the driver's positional order
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    converted: tuple[tuple[int, Callable[[Any], Any]], ...] = field(init=False, repr=False)
    plain_binds: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Only the columns that need a conversion are touched per row.
        converted = tuple((i, f) for i, f in enumerate(self.results) if f is not None)
        object.__setattr__(self, "converted", converted)
        object.__setattr__(self, "plain_binds", all(b is None for b in self.binds))

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.plain_binds:
            return tuple([params[name] for name in self.names])
        return tuple(
            value if bind is None or value is None else bind(value)
            for value, bind in zip((params[n] for n in self.names), self.binds, strict=True)
        )

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        converted = self.converted
        if not converted:
            return tuple(raw)
        values = list(raw)
        for index, convert in converted:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return tuple(values)


def compile_query(statement: Select[*tuple[Any, ...]] | Update, dialect: Dialect) -> RawQuery:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    binds = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    columns = statement.selected_columns if isinstance(statement, Select) else ()
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    return RawQuery(compiled.string, names, binds, results)


class SqliteReader:
    """A read-only connection to an SQLite database in WAL mode, used on the caller's thread.

    A point lookup over an index takes microseconds in SQLite itself; through a worker thread
    (aiosqlite) each statement costs two thread hand-offs and a turn of a busy event loop, many
    times the query. In WAL mode a reader never waits for a writer, so the event loop's thread
    can run these reads itself. Each read is its own transaction (autocommit) and is read to
    the end, so it never holds a snapshot that would keep a checkpoint from finishing."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 1000) -> None:
        self.path = path
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        self._connection.execute("PRAGMA query_only = ON")
        self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Every write elsewhere (bookkeeping, the workflow worker) empties a connection's page
        # cache; through a memory map the pages it reads again are the OS's, not copies read
        # with a system call each. The map is address space only (the file's size at most).
        self._connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        # Lookups spread over a large file find their b-tree pages parsed here; the default
        # cache (2 MiB) held too few of them. It grows with the pages read, up to this.
        self._connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

    def fetch(self, query: RawQuery, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        rows = self._connection.execute(query.sql, query.args(params)).fetchall()
        return [query.row(row) for row in rows]

    def fetchrow(self, query: RawQuery, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self._connection.execute(query.sql, query.args(params)).fetchall()
        return query.row(rows[0]) if rows else None

    def close(self) -> None:
        self._connection.close()


class SqliteWriter:
    """A connection for short batched writes.

    `executemany` with many rows gives up and takes back the interpreter lock for every row:
    from a worker thread beside a busy event loop, each of those waits for the loop to hand the
    lock over. So a batch is best one statement that updates its rows inside SQLite (a JSON array
    of rows, say): then a worker thread gives up the interpreter lock once for the whole batch.
    Each call is a short transaction that does not wait for the write lock longer than `busy_ms`
    (it fails with `sqlite3.OperationalError` instead: try again later) and commits without a
    sync (WAL, `synchronous=NORMAL`, as every Stellwerk connection). Checkpoints (copying the WAL
    back into the database, which keeps reads fast) are `checkpoint()`'s, on a connection of
    their own that a worker thread may use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA synchronous = NORMAL")
        self._connection.execute("PRAGMA wal_autocheckpoint = 0")
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._busy_ms = -1
        self._lock = threading.Lock()
        self._checkpoints = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def executemany(
        self, query: RawQuery, rows: Sequence[Mapping[str, Any]], *, busy_ms: int
    ) -> None:
        """One transaction; from any thread, one at a time (a caller that stopped waiting for
        a worker thread's write does not start a second one beside it)."""
        with self._lock:
            connection = self._connection
            if busy_ms != self._busy_ms:
                connection.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
                self._busy_ms = busy_ms
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(query.sql, [query.args(row) for row in rows])
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()
        self._checkpoints.close()

    def checkpoint(self) -> None:
        """Copy what the WAL holds back into the database without waiting for readers or
        writers (PASSIVE); call it from a worker thread."""
        self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
