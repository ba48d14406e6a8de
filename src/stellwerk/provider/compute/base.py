"""The `Compute` Protocol: servers, power actions and catalogs, the same for every provider.

Conventions every adapter follows, so callers never see a provider's dialect:

- Ids are strings (Hetzner and DigitalOcean use integers, Linode too; slugs stay slugs).
- `Server.status` is one of `STATUSES`; the provider's own word is kept in `provider_status`.
- Memory is in MB, disk in GB, transfer in GB per month, prices in USD/EUR as the provider
  states them (`price_hourly`, `price_monthly`).
- Every server Stellwerk creates carries a marker (Hetzner label, Linode and DigitalOcean tag)
  naming the Stellwerk instance, so a retried create can look before it creates (`find_server`).
- Long provider work (create, delete, power actions) returns an `Action` to wait on where the
  provider has one (Hetzner actions, DigitalOcean droplet actions); Linode has none and
  returns an action that follows the instance's status.
- Failures are `ProviderError`s with the normalized codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from stellwerk.provider.action import Action

ServerStatus = Literal[
    "provisioning", "running", "off", "starting", "stopping", "rebooting", "deleting", "unknown"
]
STATUSES: tuple[str, ...] = (
    "provisioning",
    "running",
    "off",
    "starting",
    "stopping",
    "rebooting",
    "deleting",
    "unknown",
)
PowerAction = Literal["power_on", "shutdown", "power_off", "reboot", "power_cycle"]
POWER_ACTIONS: tuple[str, ...] = ("power_on", "shutdown", "power_off", "reboot", "power_cycle")
ImageType = Literal["distribution", "application", "custom"]
IMAGE_TYPES: tuple[str, ...] = ("distribution", "application", "custom")

# The label / tag naming the Stellwerk instance a server belongs to.
MARKER_KEY = "stellwerk-instance"
# The tag form, for providers whose tags are plain strings: `stellwerk:<32 hex digits>` is 42
# characters, inside Linode's 3-50 (the API: "Tag '…' must be between 3 and 50 characters").
MARKER_PREFIX = "stellwerk:"
# Servers tagged before: `stellwerk-instance:<uuid>` (55 characters, too long for Linode).
LEGACY_MARKER_PREFIX = f"{MARKER_KEY}:"


def marker_tag(marker: str) -> str:
    """The tag naming the instance `marker` (an instance id; other strings are kept as they are)."""
    try:
        return MARKER_PREFIX + uuid.UUID(marker).hex
    except ValueError:
        return MARKER_PREFIX + marker


def split_marker(tags: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    """The marker among a server's tags (either form) and the other tags."""
    marker: str | None = None
    others: list[str] = []
    for tag in tags:
        if tag.startswith(MARKER_PREFIX) and marker is None:
            value = tag[len(MARKER_PREFIX) :]
            try:
                marker = str(uuid.UUID(hex=value)) if len(value) == 32 else value
            except ValueError:
                marker = value
        elif tag.startswith(LEGACY_MARKER_PREFIX) and marker is None:
            marker = tag[len(LEGACY_MARKER_PREFIX) :]
        else:
            others.append(tag)
    return marker, tuple(others)


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str
    provider_status: str
    region: str | None = None
    plan: str | None = None
    image: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    created_at: str | None = None
    vcpus: int | None = None
    memory: int | None = None
    disk: int | None = None
    transfer: int | None = None
    tags: tuple[str, ...] = ()
    marker: str | None = None

    @property
    def specs(self) -> dict[str, int | None]:
        return {
            "vcpus": self.vcpus,
            "memory": self.memory,
            "disk": self.disk,
            "transfer": self.transfer,
        }


@dataclass(frozen=True)
class Plan:
    id: str
    label: str
    vcpus: int
    memory: int
    disk: int
    transfer: int | None
    price_hourly: float
    price_monthly: float
    regions: tuple[str, ...] = ()
    available: bool = True
    description: str | None = None


@dataclass(frozen=True)
class Image:
    id: str
    slug: str | None
    label: str
    description: str | None
    distribution: str | None
    public: bool
    min_disk_size: int | None
    type: str  # distribution | application | custom


@dataclass(frozen=True)
class Region:
    id: str
    label: str
    available: bool
    capabilities: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True)
class MarketplaceApp:
    """A DigitalOcean 1-Click app or a Linode StackScript: something installed at creation."""

    id: str
    slug: str
    name: str
    description: str | None
    category: str | None
    image_slug: str | None
    compatible_images: tuple[str, ...] = ()
    user_defined_fields: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CreateServer:
    """What `create_server` needs; fields a provider does not know are ignored by it."""

    name: str
    plan: str
    region: str
    image: str
    marker: str
    root_password: str | None = field(default=None, repr=False)
    ssh_keys: Sequence[str] = ()
    backups: bool = False
    monitoring: bool = False
    ipv6: bool = True
    private_ip: bool = False
    vpc_uuid: str | None = None
    app: str | None = None  # DigitalOcean 1-Click slug
    stackscript_id: int | None = None  # Linode
    stackscript_data: Mapping[str, str] | None = None
    tags: Sequence[str] = ()
    user_data: str | None = None


@dataclass(frozen=True)
class CreatedServer:
    server: Server
    action: Action | None = None
    root_password: str | None = field(default=None, repr=False)


@runtime_checkable
class Compute(Protocol):
    """Servers at one provider account. Every method is keyword-only."""

    # "hetzner", "linode", "digitalocean"
    name: str
    # Power actions this provider has (`power_cycle` is DigitalOcean's).
    power_actions: frozenset[str]

    async def verify_credentials(self) -> None:
        """Raise `ProviderError(INVALID_CREDENTIALS)` unless the token works."""
        ...

    async def create_server(self, *, request: CreateServer) -> CreatedServer: ...

    async def get_server(self, *, server_id: str) -> Server:
        """The server, or `ProviderError(NOT_FOUND)`."""
        ...

    async def find_server(self, *, marker: str) -> Server | None:
        """The server created for the Stellwerk instance `marker`, if there is one."""
        ...

    async def list_servers(self) -> list[Server]: ...

    async def delete_server(self, *, server_id: str) -> Action | None: ...

    async def power(self, *, server_id: str, action: str) -> Action | None:
        """One of `POWER_ACTIONS`; `ProviderError(INVALID_ACTION)` for one it lacks."""
        ...

    async def list_plans(self) -> list[Plan]: ...

    async def list_images(self, *, type: str | None = None) -> list[Image]: ...

    async def list_regions(self) -> list[Region]: ...

    async def list_marketplace(self) -> list[MarketplaceApp]:
        """1-Click apps (DigitalOcean), StackScripts (Linode); Hetzner has none (empty)."""
        ...

    async def aclose(self) -> None: ...
