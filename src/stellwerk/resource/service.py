"""The resource pool: a resource is allocated to at most one license, even under races."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import utc_now
from stellwerk.license.repository import LicenseRepository
from stellwerk.models import Resource
from stellwerk.resource.repository import ResourceRepository


class ResourceService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        resource_type: str,
        identifier: str,
        status: str = "available",
    ) -> Resource:
        repository = ResourceRepository(session)
        identifier = identifier.strip()
        if await repository.get_by_identifier(resource_type, identifier):
            raise Conflict(
                f"The {resource_type} {identifier} is already in the pool", code="resource_exists"
            )
        resource = Resource(resource_type=resource_type, identifier=identifier, status=status)
        try:
            async with session.begin_nested():
                await repository.add(resource)
        except IntegrityError as error:
            raise Conflict(
                f"The {resource_type} {identifier} is already in the pool", code="resource_exists"
            ) from error
        await audit.record(
            session,
            actor,
            "resource.create",
            target_type="resource",
            target_id=resource.id,
            detail={"type": resource_type, "identifier": identifier},
        )
        return resource

    async def get(self, session: AsyncSession, resource_id: int) -> Resource:
        resource = await ResourceRepository(session).get(resource_id)
        if resource is None:
            raise NotFound(f"No resource with id {resource_id}", code="resource_not_found")
        return resource

    async def list(
        self,
        session: AsyncSession,
        *,
        params: PageParams,
        resource_type: str | None = None,
        status: str | None = None,
        license_id: int | None = None,
    ) -> tuple[Sequence[Resource], int]:
        return await ResourceRepository(session).list(
            resource_type=resource_type,
            status=status,
            license_id=license_id,
            offset=params.offset,
            limit=params.per_page,
        )

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        resource: Resource,
        *,
        identifier: str | None = None,
        status: str | None = None,
    ) -> Resource:
        changes: dict[str, object] = {}
        if identifier is not None and identifier.strip() != resource.identifier:
            other = await ResourceRepository(session).get_by_identifier(
                resource.resource_type, identifier.strip()
            )
            if other is not None:
                raise Conflict(f"{identifier} is already in the pool", code="resource_exists")
            resource.identifier = identifier.strip()
            changes["identifier"] = resource.identifier
        if status is not None and status != resource.status:
            if resource.status == "allocated":
                raise Conflict(
                    "Release the resource from its license first", code="resource_allocated"
                )
            resource.status = status
            changes["status"] = status
        await session.flush()
        if changes:
            await audit.record(
                session,
                actor,
                "resource.update",
                target_type="resource",
                target_id=resource.id,
                detail=changes,
            )
        return resource

    async def delete(self, session: AsyncSession, actor: Actor, resource: Resource) -> None:
        if resource.status == "allocated":
            raise Conflict(
                "The resource is allocated to a license; release it first",
                code="resource_allocated",
            )
        await ResourceRepository(session).delete(resource)
        await audit.record(
            session,
            actor,
            "resource.delete",
            target_type="resource",
            target_id=resource.id,
            detail={"type": resource.resource_type, "identifier": resource.identifier},
        )

    async def for_license(self, session: AsyncSession, license_id: int) -> Sequence[Resource]:
        if await LicenseRepository(session).get(license_id) is None:
            raise NotFound(f"No license with id {license_id}", code="license_not_found")
        return await ResourceRepository(session).for_license(license_id)

    async def allocate(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        license_id: int,
        resource_ids: Sequence[int],
        resource_type: str | None = None,
    ) -> int:
        """Allocate all of `resource_ids` to the license, or none of them."""
        ids = sorted(set(resource_ids))
        if await LicenseRepository(session).get(license_id) is None:
            raise NotFound(f"No license with id {license_id}", code="license_not_found")
        repository = ResourceRepository(session)
        found = {r.id: r for r in await repository.get_many(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(
                f"No resource with id {', '.join(map(str, missing))}",
                code="resource_not_found",
                extra={"missing_ids": missing},
            )
        if resource_type is not None:
            wrong = [i for i in ids if found[i].resource_type != resource_type]
            if wrong:
                raise ValidationFailed(
                    f"Resources {', '.join(map(str, wrong))} are not of type {resource_type}",
                    field="resource_ids",
                )
        allocated = await repository.allocate(ids, license_id=license_id, at=utc_now())
        if allocated != len(ids):
            # Someone else got (some of) them first: the request's transaction rolls back.
            raise Conflict(
                f"{len(ids) - allocated} of the resources are not available",
                code="resource_unavailable",
            )
        await audit.record(
            session,
            actor,
            "resource.allocate",
            target_type="license",
            target_id=license_id,
            detail={"resource_ids": ids},
        )
        return allocated

    async def release(
        self, session: AsyncSession, actor: Actor, *, license_id: int, resource_ids: Sequence[int]
    ) -> int:
        ids = sorted(set(resource_ids))
        repository = ResourceRepository(session)
        resources = await repository.get_many(ids)
        foreign = sorted(set(ids) - {r.id for r in resources if r.license_id == license_id})
        if foreign:
            raise Conflict(
                f"Resources {', '.join(map(str, foreign))} are not allocated to license "
                f"{license_id}",
                code="resource_not_allocated",
            )
        released = await repository.release(ids)
        await audit.record(
            session,
            actor,
            "resource.release",
            target_type="license",
            target_id=license_id,
            detail={"resource_ids": ids},
        )
        return released

    async def availability(
        self, session: AsyncSession, *, resource_type: str, count: int
    ) -> tuple[Sequence[Resource], int]:
        return await ResourceRepository(session).available(resource_type, limit=count)


resource = ResourceService()
