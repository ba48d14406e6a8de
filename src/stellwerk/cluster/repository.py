"""Worker heartbeats and the lease on a dead worker's work; each a single statement, so two
workers racing for the same row cannot both win."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.kit.time import utc_now
from stellwerk.models import Worker


def _insert(session: AsyncSession, table: Any) -> Insert:
    """An INSERT that knows ON CONFLICT on this session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class WorkerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def register(self, executor_id: str, host: str) -> None:
        """A worker starts: alive from now, and nobody's to take over any more."""
        now = utc_now()
        values = {
            "host": host,
            "started_at": now,
            "heartbeat_at": now,
            "recovered_by": None,
            "recovered_at": None,
        }
        statement = _insert(self.session, Worker).values(executor_id=executor_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=["executor_id"], set_=values
            )
        )

    async def beat(self, executor_id: str) -> bool:
        """Record a heartbeat; False if the row was gone (then register again)."""
        result = await self.session.execute(
            update(Worker)
            .where(Worker.executor_id == executor_id)
            .values(heartbeat_at=utc_now())
            .returning(Worker.executor_id)
        )
        return result.scalar_one_or_none() is not None

    async def silent_since(self, cutoff: dt.datetime, *, besides: str) -> Sequence[str]:
        """Workers without a heartbeat since `cutoff` whose work nobody has taken over."""
        rows = await self.session.scalars(
            select(Worker.executor_id).where(
                Worker.heartbeat_at < cutoff,
                Worker.recovered_by.is_(None),
                Worker.executor_id != besides,
            )
        )
        return rows.all()

    async def take_over(self, executor_id: str, cutoff: dt.datetime, *, by: str) -> bool:
        """The lease on a silent worker's work: True for exactly one caller."""
        result = await self.session.execute(
            update(Worker)
            .where(
                Worker.executor_id == executor_id,
                Worker.heartbeat_at < cutoff,
                Worker.recovered_by.is_(None),
            )
            .values(recovered_by=by, recovered_at=utc_now())
            .returning(Worker.executor_id)
        )
        return result.scalar_one_or_none() is not None

    async def release(self, executor_id: str, *, by: str) -> None:
        """Give a lease back (taking over failed): another attempt may take it."""
        await self.session.execute(
            update(Worker)
            .where(Worker.executor_id == executor_id, Worker.recovered_by == by)
            .values(recovered_by=None, recovered_at=None)
        )

    async def list(self) -> Sequence[Worker]:
        return (await self.session.scalars(select(Worker).order_by(Worker.executor_id))).all()
