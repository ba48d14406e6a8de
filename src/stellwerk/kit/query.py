"""Small helpers for composed SELECT statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, TableClause, func, or_, select, text, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


async def count(session: AsyncSession, statement: Select[Any]) -> int:
    """How many rows `statement` yields (its ordering and paging ignored)."""
    inner = statement.order_by(None).limit(None).offset(None).subquery()
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern with `escape="\\"`: its wildcards match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """A case-insensitive LIKE pattern (use with `escape="\\"`) for values containing `text`."""
    return f"%{escape_like(text).lower()}%"


async def counts_by(
    session: AsyncSession, statement: Select[Any], column: InstrumentedAttribute[Any]
) -> dict[Any, int]:
    """How many of `statement`'s rows (a SELECT of one table) hold each value of `column`."""
    grouped = (
        statement.with_only_columns(column, func.count())
        .group_by(column)
        .order_by(None)
        .limit(None)
        .offset(None)
    )
    rows = await session.execute(grouped)
    return {value: int(n) for value, n in rows.tuples()}


async def paginate(
    session: AsyncSession, statement: Select[T], *, offset: int, limit: int
) -> tuple[Sequence[T], int]:
    """One page of `statement`'s rows and the total number of rows."""
    total = await count(session, statement)
    rows = await session.scalars(statement.offset(offset).limit(limit))
    return rows.all(), total


async def insert_first(session: AsyncSession, row: object) -> bool:
    """Insert `row`; False when a unique constraint shows that a concurrent request inserted the
    same thing first. Then the unit of work is rolled back (every object it loaded expires), so
    call this before the unit of work writes anything else, and read again afterwards.
    """
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True


# --- Substring search answered from an index --------------------------------------------------

# Per SQLite database: the FTS5 tables it has (migration 1930 adds them; an SQLite without the
# trigram tokenizer has none). Looked up once per process.
_virtual_tables: dict[str, frozenset[str]] = {}


async def search_index(session: AsyncSession, index: TableClause) -> TableClause | None:
    """`index`, the trigram search table kept beside a table on SQLite, if this database has
    it; None on PostgreSQL (its trigram indexes sit on the columns themselves) or without it."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    key = str(bind.engine.url)
    present = _virtual_tables.get(key)
    if present is None:
        names = await session.scalars(
            text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
        )
        present = _virtual_tables[key] = frozenset(names)
    return index if index.name in present else None


def contains_any(
    row_id: InstrumentedAttribute[int],
    columns: Sequence[InstrumentedAttribute[Any]],
    term: str,
    index: TableClause | None = None,
) -> ColumnElement[bool]:
    """Rows where any of `columns` contains `term`, ignoring case (`column ILIKE '%term%'`).

    With `index` (the columns' trigram search table on SQLite, whose rowid is `row_id`) the
    rows come from the index: `row_id IN (SELECT rowid … WHERE column LIKE '%term%')`, each
    column on its own so each uses the index. A term with LIKE's wildcards in it is matched
    the plain way (an FTS5 LIKE takes no ESCAPE)."""
    if index is None or any(char in term for char in "%_\\"):
        pattern = contains(term)
        return or_(*(column.ilike(pattern, escape="\\") for column in columns))
    pattern = f"%{term}%"
    return row_id.in_(
        union(*(select(index.c.rowid).where(index.c[c.key].like(pattern)) for c in columns))
    )
