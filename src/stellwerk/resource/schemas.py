from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stellwerk.kit.body import LenientBody, StrictBody, also_named

ResourceType = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")


class ResourceCreate(StrictBody):
    type: str = ResourceType
    resource_type: str | None = Field(
        default=None,
        exclude=True,
        description="The same as `type`, under the name `/api/resources/allocate` uses",
    )
    identifier: str = Field(min_length=1, max_length=255)
    status: Literal["available", "disabled"] = "available"

    _type = also_named("type", "resource_type")


class ResourceUpdate(StrictBody):
    identifier: str | None = Field(default=None, min_length=1, max_length=255)
    status: Literal["available", "disabled"] | None = None


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str = Field(validation_alias="resource_type")
    identifier: str
    status: str
    license_id: int | None
    allocated_at: dt.datetime | None
    created_at: dt.datetime


class LicenseResource(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str = Field(validation_alias="resource_type")
    identifier: str
    status: str
    allocated_at: dt.datetime | None


class LicenseResources(BaseModel):
    resources: list[LicenseResource]


class AllocateRequest(LenientBody):
    license_id: int
    resource_type: str | None = Field(default=None, min_length=1, max_length=40)
    resource_ids: list[int] = Field(min_length=1, max_length=1000)


class ReleaseRequest(StrictBody):
    license_id: int
    resource_ids: list[int] = Field(min_length=1, max_length=1000)


class AllocateResponse(BaseModel):
    success: bool = True
    allocated: int
    message: str


class ReleaseResponse(BaseModel):
    success: bool = True
    released: int
    message: str


class AvailableResource(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str = Field(validation_alias="resource_type")
    identifier: str


class Availability(BaseModel):
    available: bool
    count: int = Field(description="How many resources of the type are available in all")
    requested: int
    resources: list[AvailableResource]


class Deleted(BaseModel):
    success: bool = True
    message: str
