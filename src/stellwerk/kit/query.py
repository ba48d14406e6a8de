"""Small helpers for composed SELECT statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
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

    No SAVEPOINT: on SQLite a savepoint opened before the first write would commit on release.
    """
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True
