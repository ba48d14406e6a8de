"""Request and response bodies of the module manager (ModuleInstance and OperationResponse as
documented, field for field)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from stellwerk.kit.body import LenientBody, StrictBody
from stellwerk.kit.time import iso
from stellwerk.module.manifest import NAME_PATTERN, ModuleName, Version

InstanceStatus = Literal["installed", "running", "stopped", "error"]
OperationStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
RepositoryType = Literal["file", "https"]
Timestamp = Annotated[dt.datetime, PlainSerializer(iso, return_type=str)]
RepositoryId = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class ModuleInstance(BaseModel):
    """The documented `ModuleInstance`."""

    instance_id: str = Field(description="32 hexadecimal characters")
    path: str = Field(description="`/modules/{module_name}_{instance_id}` inside the modules root")
    version: str
    status: InstanceStatus
    is_primary: bool
    frontend_url: str | None
    created_at: Timestamp
    updated_at: Timestamp


# Named for what it is in code (the ORM model is also called ModuleInstance).
ModuleInstanceRead = ModuleInstance


class OperationResponse(BaseModel):
    """The documented `OperationResponse`."""

    operation_id: str
    status: OperationStatus
    progress: int = Field(ge=0, le=100)
    message: str
    module_name: str
    status_url: str


class InstallInstanceRequest(LenientBody):
    module_name: ModuleName
    repository_id: RepositoryId | None = None
    version: Version | None = None


class RepositoryInstallRequest(LenientBody):
    """`module_name` (or `module_id`, the same thing) from a repository."""

    model_config = ConfigDict(populate_by_name=True)

    module_name: ModuleName = Field(validation_alias=AliasChoices("module_name", "module_id"))
    repository_id: RepositoryId | None = None
    version: Version | None = None


class UpdateRequest(LenientBody):
    module_name: ModuleName
    instance_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        default=None, description="Only this instance; all instances of the module if omitted"
    )
    version: Version | None = Field(default=None, description="The newest version if omitted")
    repository_id: RepositoryId | None = None


class ModuleInstanceGroup(BaseModel):
    module_name: str
    primary_instance_id: str | None
    instances: list[ModuleInstanceRead]


class ModuleInstancesResponse(BaseModel):
    modules: list[ModuleInstanceGroup]
    total: int


class LegacyModule(BaseModel):
    name: str
    version: str
    status: InstanceStatus
    instance_count: int
    primary_instance: ModuleInstanceRead | None
    frontend_url: str | None


class LegacyModulesResponse(BaseModel):
    modules: list[LegacyModule]


class CatalogVersion(BaseModel):
    version: str
    sha256: str


class CatalogModule(BaseModel):
    id: str = Field(description="The module name; what install and uninstall take")
    name: str
    display_name: str | None
    description: str | None
    category: str | None
    multi_instance: bool
    latest_version: str
    versions: list[str]
    repository_id: str
    installed: bool
    installed_versions: list[str]
    instance_count: int


class CatalogResponse(BaseModel):
    modules: list[CatalogModule]
    total: int
    categories: list[str]
    errors: dict[str, str] = Field(description="Repositories that could not be read, by id")


class RepositoryStats(BaseModel):
    id: str
    name: str
    type: RepositoryType
    url: str
    enabled: bool
    priority: int
    allow_private: bool
    module_count: int
    installed_count: int
    categories: list[str]
    modules: list[str]
    error: str | None


class RepositoryListResponse(BaseModel):
    repositories: list[RepositoryStats]
    total_repositories: int
    total_modules: int
    installed_modules: int


class RepositoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    type: RepositoryType
    url: str
    description: str | None
    enabled: bool
    priority: int
    allow_http: bool
    allow_private: bool
    has_ca_pem: bool = False
    builtin: bool
    last_error: str | None
    last_fetched_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @model_validator(mode="before")
    @classmethod
    def _ca(cls, data: object) -> object:
        ca_pem = getattr(data, "ca_pem", None)
        if ca_pem is not None and not isinstance(data, dict):
            return {
                **{k: getattr(data, k) for k in cls.model_fields if hasattr(data, k)},
                "has_ca_pem": True,
            }
        return data


class RepositoryCreate(StrictBody):
    id: RepositoryId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: RepositoryType
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    description: Annotated[str, Field(max_length=1000)] | None = None
    enabled: bool = True
    priority: Annotated[int, Field(ge=0, le=100_000)] = 100
    allow_http: bool = Field(default=False, description="Allow plain http (https repositories)")
    allow_private: bool = Field(
        default=False,
        description="Allow a host that resolves to a loopback, private or other non-public "
        "address (https repositories)",
    )
    ca_pem: Annotated[str, Field(max_length=20_000)] | None = Field(
        default=None, description="A CA certificate (PEM) to trust for this repository"
    )


class RepositoryUpdate(StrictBody):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    enabled: bool | None = None
    priority: Annotated[int, Field(ge=0, le=100_000)] | None = None
    allow_http: bool | None = None
    allow_private: bool | None = None
    ca_pem: Annotated[str, Field(max_length=20_000)] | None = None


class PinRead(BaseModel):
    """The sha256 an archive had when its module version was first trusted."""

    model_config = ConfigDict(from_attributes=True)

    repository_id: str
    module_name: str
    version: str
    sha256: str
    pinned_at: Timestamp
