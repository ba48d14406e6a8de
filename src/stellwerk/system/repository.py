"""Installation-wide rows: shared secrets, process heartbeats, and what `/status` and the
metrics count across the whole installation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import InstallationSecret, Operation, ProcessHeartbeat


def _insert(session: AsyncSession, table: Any) -> Insert:
    """An INSERT that knows ON CONFLICT on this session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class InstallationSecretRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, name: str) -> InstallationSecret | None:
        return await self.session.get(InstallationSecret, name)

    async def add_if_missing(
        self, name: str, encrypted_value: bytes, *, origin: str, imported_at: dt.datetime | None
    ) -> None:
        """Insert unless another process stored this secret first (then theirs stays)."""
        statement = _insert(self.session, InstallationSecret).values(
            name=name,
            encrypted_value=encrypted_value,
            origin=origin,
            imported_at=imported_at,
            created_at=imported_at or dt.datetime.now(dt.UTC),
        )
        await self.session.execute(
            statement.on_conflict_do_nothing(index_elements=["name"])  # type: ignore[attr-defined]
        )


class HeartbeatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def beat(self, values: dict[str, Any]) -> None:
        """Insert this process's row, or move its `seen_at` (and what may have changed)."""
        statement = _insert(self.session, ProcessHeartbeat).values(**values)
        changing = {k: v for k, v in values.items() if k != "process_id"}
        await self.session.execute(
            statement.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=["process_id"], set_=changing
            )
        )

    async def seen_since(self, since: dt.datetime) -> Sequence[ProcessHeartbeat]:
        rows = await self.session.scalars(
            select(ProcessHeartbeat)
            .where(ProcessHeartbeat.seen_at >= since)
            .order_by(ProcessHeartbeat.role, ProcessHeartbeat.process_id)
        )
        return rows.all()

    async def count_since(self, since: dt.datetime) -> dict[str, int]:
        rows = await self.session.execute(
            select(ProcessHeartbeat.role, func.count())
            .where(ProcessHeartbeat.seen_at >= since)
            .group_by(ProcessHeartbeat.role)
        )
        return {role: int(n) for role, n in rows.tuples()}

    async def delete_before(self, before: dt.datetime) -> int:
        result = await self.session.execute(
            delete(ProcessHeartbeat).where(ProcessHeartbeat.seen_at < before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def stop(self, process_id: str) -> None:
        await self.session.execute(
            delete(ProcessHeartbeat).where(ProcessHeartbeat.process_id == process_id)
        )


class InstallationRepository:
    """Counts over the whole installation, whichever process asks."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def operations_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(Operation.status, func.count())
            .where(Operation.status.in_(("queued", "running", "waiting")))
            .group_by(Operation.status)
        )
        return {status: int(n) for status, n in rows.tuples()}

    async def operations_by_kind(self, status: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(Operation.kind, func.count())
            .where(Operation.status == status)
            .group_by(Operation.kind)
        )
        return {kind: int(n) for kind, n in rows.tuples()}

    async def oldest_queued(self) -> Operation | None:
        return await self.session.scalar(
            select(Operation)
            .where(Operation.status == "queued")
            .order_by(Operation.created_at, Operation.id)
            .limit(1)
        )

    async def workflow_queues(self) -> dict[str, dict[str, int]]:
        """Workflows waiting on or running from each engine queue (PostgreSQL: the engine's
        tables share the database; `{}` elsewhere)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return {}
        if await self.session.scalar(text("SELECT to_regclass('dbos.workflow_status')")) is None:
            return {}  # no worker has started the engine on this database yet
        rows = await self.session.execute(
            text(
                "SELECT queue_name, status, count(*) FROM dbos.workflow_status "
                "WHERE queue_name IS NOT NULL AND status IN ('ENQUEUED', 'PENDING') "
                "GROUP BY queue_name, status"
            )
        )
        queues: dict[str, dict[str, int]] = {}
        for name, status, count in rows.tuples():
            state = "queued" if status == "ENQUEUED" else "running"
            queues.setdefault(str(name), {"queued": 0, "running": 0})[state] = int(count)
        return queues
