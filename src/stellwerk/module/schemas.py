"""Request and response bodies of the module manager (ModuleInstance and OperationResponse as
documented, field for field)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from stellwerk.kit.body import LenientBody, StrictBody
from stellwerk.kit.time import iso
from stellwerk.module.manifest import NAME_PATTERN, ModuleName, Version
from stellwerk.operation.schemas import AnswerFields, Answers, PromptRead

InstanceStatus = Literal["installed", "running", "stopped", "error"]
OperationStatus = Literal["queued", "running", "waiting", "completed", "failed", "cancelled"]
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
    prompts: list[PromptRead] = Field(
        default_factory=list,
        description="While `waiting`: the questions to answer at `{status_url}/answer`",
    )


class AnswerRequest(AnswerFields, LenientBody):
    """The answer to a question a `waiting` module operation asks."""


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
    repository_id: RepositoryId | None = Field(
        default=None,
        description="Where to take the version from; if omitted, the repository the instances "
        "came from (a newer version elsewhere is reported, never installed, until named here)",
    )
    prereleases: bool = Field(
        default=False, description="Whether the newest version may be a pre-release"
    )
    answers: Answers | None = Field(
        default=None,
        description="Answers to questions the update would ask, given in advance "
        '(`{"major_update": "continue"}`)',
    )


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


class AvailableUpdate(BaseModel):
    """The newest version one repository offers, where it is newer than an installed one."""

    repository_id: str
    version: str
    is_source: bool = Field(description="Whether the instances come from this repository")
    crosses_major: bool = Field(description="Whether it raises the major version")
    prerelease: bool


class InstanceUpdate(BaseModel):
    instance_id: str
    version: str
    repository_id: str | None
    latest_version: str | None = Field(
        description="The newest version of the repository this instance comes from"
    )
    update_available: bool = Field(description="Whether that is newer than `version`")


class ModuleUpdates(BaseModel):
    module_name: str
    installed_versions: list[str]
    repository_ids: list[str] = Field(description="Where the instances come from")
    update_available: bool
    latest_version: str | None = Field(description="The newest version of any repository")
    latest_repository_id: str | None
    requires_repository: bool = Field(
        description="The newest version is only in another repository: `POST /modules/update` "
        "installs it only when `repository_id` names `latest_repository_id`"
    )
    available_updates: list[AvailableUpdate]
    instances: list[InstanceUpdate]


class UpdatesCheckResponse(BaseModel):
    modules: list[ModuleUpdates]
    total: int
    updates_available: int = Field(description="How many modules have a newer version")
    checked_at: Timestamp
    errors: dict[str, str] = Field(description="Repositories that could not be read, by id")


class InstanceLogs(BaseModel):
    module_name: str
    instance_id: str
    runtime: str
    lines: list[str] = Field(description="Oldest first")
    cursor: str = Field(
        description="Pass as `after` to get only what the instance wrote since (following)"
    )
