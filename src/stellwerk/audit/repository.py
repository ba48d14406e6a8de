"""All SQL for the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import AuditEvent


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: AuditEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def list(
        self,
        *,
        offset: int,
        limit: int,
        action: str | None = None,
        actor_user_id: int | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: dt.datetime | None = None,
    ) -> tuple[Sequence[AuditEvent], int]:
        conditions = []
        if action:
            conditions.append(AuditEvent.action.startswith(action))
        if actor_user_id is not None:
            conditions.append(AuditEvent.actor_user_id == actor_user_id)
        if target_type:
            conditions.append(AuditEvent.target_type == target_type)
        if target_id:
            conditions.append(AuditEvent.target_id == target_id)
        if since is not None:
            conditions.append(AuditEvent.at >= since)
        total = await self.session.scalar(
            select(func.count()).select_from(AuditEvent).where(*conditions)
        )
        rows = await self.session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)
