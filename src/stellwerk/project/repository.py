"""All SQL for projects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import Operation, Project


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, project_id: int) -> Project | None:
        return await self.session.get(Project, project_id)

    async def get_for_update(self, project_id: int) -> Project | None:
        result = await self.session.execute(
            select(Project).where(Project.id == project_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def by_name(self, name: str) -> Project | None:
        result = await self.session.execute(select(Project).where(Project.name == name))
        return result.scalar_one_or_none()

    async def by_domain(self, domain: str) -> Project | None:
        result = await self.session.execute(select(Project).where(Project.domain == domain))
        return result.scalar_one_or_none()

    async def add(self, project: Project) -> Project:
        self.session.add(project)
        await self.session.flush()
        return project

    async def list(
        self, *, offset: int, limit: int, owner_user_id: int | None, state: str | None
    ) -> tuple[Sequence[Project], int]:
        query = select(Project)
        count = select(func.count()).select_from(Project)
        if owner_user_id is not None:
            query = query.where(Project.owner_user_id == owner_user_id)
            count = count.where(Project.owner_user_id == owner_user_id)
        if state is not None:
            query = query.where(Project.state == state)
            count = count.where(Project.state == state)
        rows = await self.session.execute(
            query.order_by(Project.id.desc()).offset(offset).limit(limit)
        )
        return rows.scalars().all(), int((await self.session.execute(count)).scalar_one())

    async def operation(self, operation_id: uuid.UUID | None) -> Operation | None:
        if operation_id is None:
            return None
        return await self.session.get(Operation, operation_id)

    async def operations(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Operation]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Operation).where(Operation.id.in_(ids)))
        return {o.id: o for o in rows.scalars()}
