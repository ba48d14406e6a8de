"""The `DnsProvider` Protocol: zones and records, the same for every DNS provider.

Conventions every adapter follows, so callers never see a provider's dialect:

- Zone names are lower case, without the trailing dot (`example.com`).
- Record names are relative to the zone; the apex is `@` (INWX says `""`, PowerDNS wants
  `example.com.`: the adapter converts).
- `content` is the value in presentation form without the priority: an A record's address, a
  CNAME's or MX's target host (no trailing dot), a TXT record's text *unquoted* (the adapter adds
  quotes where the provider wants them), an SRV's `weight port target`, a CAA's
  `flags tag "value"`. MX and SRV carry their priority in `priority`.
- A record's `id` is opaque to callers: INWX's numeric id, or for providers that only know record
  sets (PowerDNS, Hetzner Cloud) a stable id derived from name, type and content.
- Failures are `ProviderError`s with the normalized codes (`NOT_FOUND` for a missing zone or
  record, `VALIDATION_ERROR` for a value the provider refuses, ...).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS"]
RECORD_TYPES: tuple[str, ...] = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS")
# Types that carry a priority (MX preference, SRV priority).
PRIORITY_TYPES = frozenset({"MX", "SRV"})
APEX = "@"
DEFAULT_TTL = 3600


@dataclass(frozen=True)
class DnsZone:
    name: str
    id: str
    # What the provider says about it, where it says anything ("Native", "Master", ...).
    kind: str | None = None


@dataclass(frozen=True)
class DnsRecord:
    id: str
    zone: str
    name: str
    type: str
    content: str
    ttl: int
    priority: int | None = None

    @property
    def fqdn(self) -> str:
        return self.zone if self.name == APEX else f"{self.name}.{self.zone}"


@runtime_checkable
class DnsProvider(Protocol):
    """Zones and records at one DNS provider account. Every method is keyword-only."""

    # "inwx", "powerdns", "hetzner", ...
    name: str

    async def list_zones(self) -> list[DnsZone]: ...

    async def get_zone(self, *, zone: str) -> DnsZone:
        """The zone, or `ProviderError(NOT_FOUND)`."""
        ...

    async def create_zone(self, *, zone: str, nameservers: Sequence[str] = ()) -> DnsZone:
        """Create a zone; `ProviderError(CONFLICT)` when it exists."""
        ...

    async def delete_zone(self, *, zone: str) -> None: ...

    async def list_records(
        self, *, zone: str, name: str | None = None, type: str | None = None
    ) -> list[DnsRecord]:
        """The zone's records (optionally only one name and/or type), without SOA records."""
        ...

    async def create_record(
        self,
        *,
        zone: str,
        name: str,
        type: str,
        content: str,
        ttl: int = DEFAULT_TTL,
        priority: int | None = None,
    ) -> DnsRecord: ...

    async def update_record(
        self,
        *,
        zone: str,
        record_id: str,
        content: str | None = None,
        ttl: int | None = None,
        priority: int | None = None,
    ) -> DnsRecord:
        """Change a record's value, TTL or priority (its name and type stay). The returned
        record's id may differ from `record_id` for providers whose ids derive from content."""
        ...

    async def delete_record(self, *, zone: str, record_id: str) -> None:
        """Delete one record; `ProviderError(NOT_FOUND)` when there is no such record."""
        ...

    async def aclose(self) -> None: ...


def normalize_zone(zone: str) -> str:
    return zone.strip().rstrip(".").lower()


def relative_name(name: str, zone: str) -> str:
    """`www.example.com.` / `www` / `` / `@` (in zone example.com) → `www` / `@`."""
    name = name.strip().rstrip(".").lower()
    zone = normalize_zone(zone)
    if name in ("", APEX, zone):
        return APEX
    if name.endswith("." + zone):
        return name[: -len(zone) - 1]
    return name


def absolute_name(name: str, zone: str) -> str:
    """The fully qualified name with the trailing dot (`www.example.com.`)."""
    relative = relative_name(name, zone)
    zone = normalize_zone(zone)
    return f"{zone}." if relative == APEX else f"{relative}.{zone}."


def rrset_record_id(name: str, type: str, content: str, priority: int | None = None) -> str:
    """A stable record id for providers that only know record sets (name + type + value)."""
    raw = json.dumps([name, type, content, priority], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_rrset_record_id(record_id: str) -> tuple[str, str, str, int | None]:
    """The inverse of `rrset_record_id`; raises `ValueError` for an id it did not make."""
    padded = record_id + "=" * (-len(record_id) % 4)
    try:
        name, type_, content, priority = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a record id: {record_id!r}") from error
    if not isinstance(name, str) or not isinstance(type_, str) or not isinstance(content, str):
        raise ValueError(f"not a record id: {record_id!r}")
    return name, type_, content, priority if isinstance(priority, int) else None


def quote_txt(text: str) -> str:
    """TXT text in presentation form: quoted, split into 255-byte strings, escapes kept."""
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [escaped[i : i + 255] for i in range(0, len(escaped), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def unquote_txt(value: str) -> str:
    """`"a" "b"` → `ab`; unquoted text comes back unchanged."""
    value = value.strip()
    if not value.startswith('"'):
        return value
    parts: list[str] = []
    current: list[str] = []
    inside = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and inside:
            escaped = True
        elif char == '"':
            if inside:
                parts.append("".join(current))
                current = []
            inside = not inside
        elif inside:
            current.append(char)
    return "".join(parts)
