"""All SQL for the resource pool."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import Resource


class ResourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, resource_id: int) -> Resource | None:
        return await self.session.get(Resource, resource_id)

    async def get_by_identifier(self, resource_type: str, identifier: str) -> Resource | None:
        return await self.session.scalar(
            select(Resource).where(
                Resource.resource_type == resource_type, Resource.identifier == identifier
            )
        )

    async def add(self, resource: Resource) -> Resource:
        self.session.add(resource)
        await self.session.flush()
        return resource

    async def delete(self, resource: Resource) -> None:
        await self.session.delete(resource)
        await self.session.flush()

    async def get_many(self, resource_ids: Sequence[int]) -> Sequence[Resource]:
        return (
            await self.session.scalars(select(Resource).where(Resource.id.in_(resource_ids)))
        ).all()

    async def list(
        self,
        *,
        resource_type: str | None,
        status: str | None,
        license_id: int | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[Resource], int]:
        conditions = []
        if resource_type is not None:
            conditions.append(Resource.resource_type == resource_type)
        if status is not None:
            conditions.append(Resource.status == status)
        if license_id is not None:
            conditions.append(Resource.license_id == license_id)
        total = await self.session.scalar(
            select(func.count()).select_from(Resource).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Resource).where(*conditions).order_by(Resource.id).offset(offset).limit(limit)
        )
        return rows.all(), int(total or 0)

    async def for_license(self, license_id: int) -> Sequence[Resource]:
        return (
            await self.session.scalars(
                select(Resource).where(Resource.license_id == license_id).order_by(Resource.id)
            )
        ).all()

    async def available(self, resource_type: str, *, limit: int) -> tuple[Sequence[Resource], int]:
        condition = (Resource.resource_type == resource_type, Resource.status == "available")
        total = await self.session.scalar(
            select(func.count()).select_from(Resource).where(*condition)
        )
        rows = await self.session.scalars(
            select(Resource).where(*condition).order_by(Resource.id).limit(limit)
        )
        return rows.all(), int(total or 0)

    async def allocate(
        self, resource_ids: Sequence[int], *, license_id: int, at: dt.datetime
    ) -> int:
        """Allocate those still available, in one conditional UPDATE; returns how many.

        Two requests racing for a resource cannot both see it available: the second one's
        UPDATE waits for the first and then no longer matches.
        """
        result = await self.session.execute(
            update(Resource)
            .where(Resource.id.in_(resource_ids), Resource.status == "available")
            .values(status="allocated", license_id=license_id, allocated_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, resource_ids: Sequence[int]) -> int:
        result = await self.session.execute(
            update(Resource)
            .where(Resource.id.in_(resource_ids), Resource.status == "allocated")
            .values(status="available", license_id=None, allocated_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def release_for_licenses(self, license_ids: Sequence[int]) -> int:
        result = await self.session.execute(
            update(Resource)
            .where(Resource.license_id.in_(license_ids))
            .values(status="available", license_id=None, allocated_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
