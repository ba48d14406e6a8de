"""The formats modules come in: a repository's `index.json` and a module's `module.json`.

Both are documented in docs/modules.md. Names and ids are checked here, once, so that no request
value reaches the filesystem or a container name unchecked.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stellwerk.exceptions import ValidationFailed
from stellwerk.kit.semver import parse_version

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
INSTANCE_ID_PATTERN = r"^[0-9a-f]{32}$"
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
MANIFEST_FILE = "module.json"
INDEX_FILE = "index.json"

_NAME = re.compile(NAME_PATTERN)
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)

ModuleName = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Version = Annotated[str, Field(min_length=1, max_length=64, pattern=VERSION_PATTERN)]


def check_module_name(value: str, field: str = "module_name") -> str:
    if not (1 <= len(value) <= 64) or not _NAME.fullmatch(value):
        raise ValidationFailed(
            "A module name is 1-64 letters, digits, '_' or '-'", field=field, code="invalid_name"
        )
    return value


def check_instance_id(value: str, field: str = "instance_id") -> str:
    if not _INSTANCE_ID.fullmatch(value):
        raise ValidationFailed(
            "An instance id is 32 lowercase hexadecimal characters",
            field=field,
            code="invalid_instance_id",
        )
    return value


def check_version(value: str, field: str = "version") -> str:
    if not _VERSION.fullmatch(value):
        raise ValidationFailed("Invalid version", field=field, code="invalid_version")
    return value


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: numeric parts numerically, so 0.10.0 sorts after 0.9.1; pre-releases first."""
    main, _, pre = version.partition("-")
    parts: list[tuple[int, int | str]] = []
    for piece in re.split(r"[.+_]", main):
        parts.append((1, int(piece)) if piece.isdecimal() else (0, piece))
    parts.append((0, pre) if pre else (1, 0))
    return tuple(parts)


def is_newer(candidate: str, than: str) -> bool:
    """Whether `candidate` is a later version than `than`: semantic versions compare as semver
    says (1.0.0-rc.2 < 1.0.0 < 1.0.1), anything else by `version_key`."""
    new, old = parse_version(candidate), parse_version(than)
    if new is not None and old is not None:
        return new > old
    return version_key(candidate) > version_key(than)


class VersionOrder:
    """A sort key that orders versions as `is_newer` does: `sorted(versions, key=VersionOrder)`."""

    def __init__(self, version: str) -> None:
        self.version = version

    def __lt__(self, other: VersionOrder) -> bool:
        return is_newer(other.version, self.version)


def is_prerelease(version: str) -> bool:
    parsed = parse_version(version)
    return bool(parsed.prerelease) if parsed is not None else "-" in version


class RunSpec(BaseModel):
    """How a module runs. `command` for the process runtime, `image` for Docker."""

    model_config = ConfigDict(extra="forbid")

    command: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        default=None, max_length=64
    )
    image: Annotated[str, Field(max_length=300)] | None = None
    container_command: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        default=None, max_length=64
    )
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    env: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict)
    # Container and Swarm runtimes: the image's user to run as (`name`, `uid` or `uid:gid`);
    # nobody (65534:65534) when not given.
    user: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")] | (
        None
    ) = None

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", key):
                raise ValueError(f"invalid environment variable name {key!r}")
        return value


class HealthSpec(BaseModel):
    """Healthy: still running `grace_seconds` after start (and `command` exits 0, if given)."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: Annotated[float, Field(ge=0, le=120)] = 1.0
    command: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        default=None, max_length=64
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0


class Manifest(BaseModel):
    """`module.json` at the root of every module archive."""

    model_config = ConfigDict(extra="forbid")

    name: ModuleName
    version: Version
    display_name: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    multi_instance: bool = False
    frontend_url: Annotated[str, Field(max_length=500)] | None = None
    run: RunSpec = Field(default_factory=RunSpec)
    health: HealthSpec = Field(default_factory=HealthSpec)


class IndexVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Version
    archive: Annotated[str, Field(min_length=1, max_length=2000)]
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)]
    size: int | None = None


class IndexModule(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: ModuleName
    display_name: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    multi_instance: bool = False
    versions: list[IndexVersion] = Field(min_length=1, max_length=500)

    def sorted_versions(self) -> list[IndexVersion]:
        return sorted(self.versions, key=lambda v: VersionOrder(v.version))

    @property
    def latest(self) -> IndexVersion:
        return self.sorted_versions()[-1]

    def newest(self, *, prereleases: bool = False) -> IndexVersion:
        """The newest version; pre-releases only when asked for, or when there is nothing else."""
        ordered = self.sorted_versions()
        stable = [v for v in ordered if not is_prerelease(v.version)]
        return (ordered if prereleases or not stable else stable)[-1]

    def find(self, version: str | None, *, prereleases: bool = False) -> IndexVersion | None:
        if version is None:
            return self.newest(prereleases=prereleases)
        return next((v for v in self.versions if v.version == version), None)


class RepositoryIndex(BaseModel):
    """`index.json` at the root of a repository."""

    model_config = ConfigDict(extra="ignore")

    format: int = 1
    name: str | None = None
    modules: list[IndexModule] = Field(default_factory=list, max_length=5000)

    def module(self, name: str) -> IndexModule | None:
        return next((m for m in self.modules if m.name == name), None)


def describe_validation(error: Any) -> str:
    """A short, readable summary of a pydantic validation error."""
    errors = error.errors() if hasattr(error, "errors") else []
    if not errors:
        return str(error)
    first = errors[0]
    location = ".".join(str(p) for p in first.get("loc", ()))
    return f"{location}: {first.get('msg', 'invalid')}" if location else str(first.get("msg"))
