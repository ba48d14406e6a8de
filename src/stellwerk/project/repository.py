"""All SQL for projects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import contains, counts_by, paginate
from stellwerk.models import Operation, Project


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def readable(principal: Principal) -> Select[Project]:
        """The projects `principal` may see and manage: a customer their own, the company all."""
        statement = select(Project)
        if principal.owner_filter is not None:
            statement = statement.where(Project.owner_user_id == principal.owner_filter)
        return statement

    async def get_readable(self, principal: Principal, project_id: int) -> Project | None:
        return await self.session.scalar(self.readable(principal).where(Project.id == project_id))

    async def by_name_readable(self, principal: Principal, name: str) -> Project | None:
        return await self.session.scalar(self.readable(principal).where(Project.name == name))

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

    async def by_deployment(self, deployment_uuid: str) -> Project | None:
        return await self.session.scalar(
            select(Project).where(Project.deployment_uuid == deployment_uuid)
        )

    async def by_domain(self, domain: str) -> Project | None:
        result = await self.session.execute(select(Project).where(Project.domain == domain))
        return result.scalar_one_or_none()

    async def by_coolify_app(self, app_uuid: str) -> Project | None:
        return await self.session.scalar(
            select(Project).where(Project.coolify_app_uuid == app_uuid)
        )

    async def add(self, project: Project) -> Project:
        self.session.add(project)
        await self.session.flush()
        return project

    async def list(
        self, principal: Principal, *, offset: int, limit: int, state: str | None
    ) -> tuple[Sequence[Project], int]:
        statement = self.readable(principal)
        if state is not None:
            statement = statement.where(Project.state == state)
        statement = statement.order_by(Project.id.desc())
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def search(
        self, principal: Principal, query: str, *, limit: int
    ) -> tuple[Sequence[Project], int]:
        """The projects `principal` may see whose name or domain contains `query`."""
        pattern = contains(query)
        statement = (
            self.readable(principal)
            .where(
                or_(
                    Project.name.ilike(pattern, escape="\\"),
                    Project.domain.ilike(pattern, escape="\\"),
                )
            )
            .order_by(Project.name, Project.id)
        )
        return await paginate(self.session, statement, offset=0, limit=limit)

    async def counts_by_state(self, principal: Principal) -> dict[str, int]:
        """How many projects `principal` may see are in each state."""
        return await counts_by(self.session, self.readable(principal), Project.state)

    async def operation(self, operation_id: uuid.UUID | None) -> Operation | None:
        if operation_id is None:
            return None
        return await self.session.get(Operation, operation_id)

    async def operations(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Operation]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Operation).where(Operation.id.in_(ids)))
        return {o.id: o for o in rows.scalars()}
