"""Units of work (`Database.session`) on both backends: savepoints inside them, and a writer
beside them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from stellwerk.models import Customer
from stellwerk.runtime import Runtime


async def _customers(runtime: Runtime) -> list[str]:
    async with runtime.database.session() as session:
        return list(await session.scalars(select(Customer.name).order_by(Customer.name)))


async def test_savepoint_first_waits_for_another_writer(runtime: Runtime) -> None:
    """A unit of work whose first write is in a savepoint, after reading inside it, waits for
    a writer beside it instead of failing ("database is locked" on SQLite)."""
    writing = asyncio.Event()

    async def other_writer() -> None:
        async with runtime.database.session() as session:
            session.add(Customer(name="Beside", email="beside@example.com"))
            await session.flush()
            writing.set()
            await asyncio.sleep(0.3)  # holds its write transaction open meanwhile

    other = asyncio.create_task(other_writer())
    await writing.wait()
    async with runtime.database.session() as session, session.begin_nested():
        await session.scalar(select(func.count()).select_from(Customer))
        session.add(Customer(name="Nested", email="nested@example.com"))
        await session.flush()
    await other
    assert await _customers(runtime) == ["Beside", "Nested"]


async def test_released_savepoint_rolls_back_with_its_unit_of_work(runtime: Runtime) -> None:
    """Releasing a savepoint keeps its writes in the unit of work: an error after it rolls
    them back too (on SQLite a savepoint opened outside a transaction would commit on release)."""

    async def unit_of_work() -> None:
        async with runtime.database.session() as session:
            async with session.begin_nested():
                session.add(Customer(name="Half", email="half@example.com"))
                await session.flush()
            session.add(Customer(name="Rest", email="rest@example.com"))
            await session.flush()
            raise RuntimeError("fails after the savepoint")

    with pytest.raises(RuntimeError, match="after the savepoint"):
        await unit_of_work()
    assert await _customers(runtime) == []
