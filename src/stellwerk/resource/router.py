"""HTTP for the resource pool (admin panel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from stellwerk.database import SessionDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.resource.auth import ResourcesReader, ResourcesWriter
from stellwerk.resource.schemas import (
    AllocateRequest,
    AllocateResponse,
    Availability,
    AvailableResource,
    Deleted,
    LicenseResource,
    LicenseResources,
    ReleaseRequest,
    ReleaseResponse,
    ResourceCreate,
    ResourceRead,
    ResourceUpdate,
)
from stellwerk.resource.service import resource as resource_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["resources"], responses=error_responses(Surface.LICENSE))
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("/api/resources", response_model=Page[ResourceRead])
async def list_resources(
    _: ResourcesReader,
    session: SessionDep,
    params: PageDep,
    type: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(available|allocated|disabled)$")] = None,
    license_id: int | None = None,
) -> Page[ResourceRead]:
    """The pool, filtered by type, status or license."""
    rows, total = await resource_service.list(
        session, params=params, resource_type=type, status=status, license_id=license_id
    )
    return Page.of([ResourceRead.model_validate(r) for r in rows], total=total, params=params)


@router.post("/api/resources", response_model=ResourceRead, status_code=status.HTTP_201_CREATED)
async def create_resource(
    body: ResourceCreate, subject: ResourcesWriter, session: SessionDep
) -> ResourceRead:
    """Add a resource to the pool."""
    created = await resource_service.create(
        session,
        subject.actor,
        resource_type=body.type,
        identifier=body.identifier,
        status=body.status,
    )
    return ResourceRead.model_validate(created)


@router.post("/api/resources/allocate", response_model=AllocateResponse)
async def allocate(
    body: AllocateRequest, subject: ResourcesWriter, session: SessionDep
) -> AllocateResponse:
    """Allocate resources to a license: all of them or none (409 if one is taken)."""
    allocated = await resource_service.allocate(
        session,
        subject.actor,
        license_id=body.license_id,
        resource_ids=body.resource_ids,
        resource_type=body.resource_type,
    )
    return AllocateResponse(
        allocated=allocated, message=f"{allocated} resources allocated successfully"
    )


@router.post("/api/resources/release", response_model=ReleaseResponse)
async def release(
    body: ReleaseRequest, subject: ResourcesWriter, session: SessionDep
) -> ReleaseResponse:
    """Return resources of a license to the pool."""
    released = await resource_service.release(
        session, subject.actor, license_id=body.license_id, resource_ids=body.resource_ids
    )
    return ReleaseResponse(released=released, message=f"{released} resources released")


@router.get("/api/resources/check-availability", response_model=Availability)
async def check_availability(
    _: ResourcesReader,
    session: SessionDep,
    type: Annotated[str, Query(min_length=1, max_length=40)],
    count: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Availability:
    """Whether `count` resources of `type` are free, and which."""
    rows, total = await resource_service.availability(session, resource_type=type, count=count)
    return Availability(
        available=total >= count,
        count=total,
        requested=count,
        resources=[AvailableResource.model_validate(r) for r in rows],
    )


@router.get("/api/resources/{resource_id:int}", response_model=ResourceRead)
async def get_resource(resource_id: int, _: ResourcesReader, session: SessionDep) -> ResourceRead:
    return ResourceRead.model_validate(await resource_service.get(session, resource_id))


@router.put("/api/resources/{resource_id:int}", response_model=ResourceRead)
async def update_resource(
    resource_id: int, body: ResourceUpdate, subject: ResourcesWriter, session: SessionDep
) -> ResourceRead:
    found = await resource_service.get(session, resource_id)
    updated = await resource_service.update(
        session, subject.actor, found, identifier=body.identifier, status=body.status
    )
    return ResourceRead.model_validate(updated)


@router.delete("/api/resources/{resource_id:int}", response_model=Deleted)
async def delete_resource(
    resource_id: int, subject: ResourcesWriter, session: SessionDep
) -> Deleted:
    found = await resource_service.get(session, resource_id)
    await resource_service.delete(session, subject.actor, found)
    return Deleted(message="Resource deleted")


@router.get("/api/license/{license_id:int}/resources", response_model=LicenseResources)
async def license_resources(
    license_id: int, _: ResourcesReader, session: SessionDep
) -> LicenseResources:
    """Resources allocated to a license."""
    rows = await resource_service.for_license(session, license_id)
    return LicenseResources(resources=[LicenseResource.model_validate(r) for r in rows])
