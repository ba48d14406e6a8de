"""DNS zones and records: validated here, written at the zone's provider.

A CNAME never shares its name with another record (RFC 1034, section 3.6.2), so there is no
CNAME at the zone apex (which holds the zone's SOA and NS records), no CNAME beside another
record, and no other record beside a CNAME: such a record is refused before anything is written.

`setup_project_dns(domain, server_ip)` is idempotent: for `@` and `www` it updates an existing A
record instead of adding another, and removes further A records of those names (a project's
names point at its server only). A CNAME in the way is replaced when the project made it, and
stops provisioning with `RecordNotOwned` when it did not.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.dns.zones import ensure_zone
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit.query import insert_first
from stellwerk.models import DnsZone
from stellwerk.provider import connect
from stellwerk.provider.dns.base import (
    APEX,
    PRIORITY_TYPES,
    DnsProvider,
    DnsRecord,
    relative_name,
)
from stellwerk.provider.error import NOT_FOUND, ProviderError
from stellwerk.registrar.service import normalize_domain

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")
_HOST = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_LABEL = re.compile(r"^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$")
_SRV_NAME = re.compile(r"^_[a-z0-9-]+\._(tcp|udp|tls|sctp)(\.|$)")
_CAA = re.compile(r'^(\d{1,3})\s+(issue|issuewild|iodef|issuemail)\s+"([^"]*)"$')
PROJECT_NAMES = (APEX, "www")


def _host(value: str, field: str = "content") -> str:
    host = value.strip().rstrip(".").lower()
    if not _HOST.match(host):
        raise ValidationFailed(f"{value!r} is not a host name", field=field)
    return host


def validate_name(name: str, zone: str) -> str:
    relative = relative_name(name, zone)
    if relative == APEX:
        return relative
    if len(f"{relative}.{zone}") > 253 or not all(_LABEL.match(p) for p in relative.split(".")):
        raise ValidationFailed(f"{name!r} is not a valid record name", field="name")
    return relative


def validate_record(
    zone: str, name: str, type_: str, content: str, priority: int | None
) -> tuple[str, str, str, int | None]:
    """Check one record; returns (relative name, type, normalized content, priority)."""
    type_ = type_.upper()
    if type_ not in RECORD_TYPES:
        raise ValidationFailed(f"The type is one of {', '.join(RECORD_TYPES)}", field="type")
    relative = validate_name(name, zone)
    content = content.strip()
    if type_ in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(content)
        except ValueError as error:
            raise ValidationFailed(f"{content!r} is not an IP address", field="content") from error
        if address.version != (4 if type_ == "A" else 6):
            raise ValidationFailed(
                f"An {type_} record holds an IPv{4 if type_ == 'A' else 6} address", field="content"
            )
        content = str(address)
    elif type_ == "CNAME":
        if relative == APEX:
            raise ValidationFailed(
                f"A CNAME cannot be at the zone apex ({zone}): the apex holds the zone's SOA and "
                "NS records, and a CNAME shares its name with no other record (RFC 1034, "
                "section 3.6.2); use A/AAAA records there",
                field="name",
                code="cname_at_apex",
            )
        content = _host(content)
    elif type_ == "MX":
        content = _host(content)
    elif type_ == "TXT":
        if not content.isprintable():
            raise ValidationFailed("TXT text must be printable", field="content")
    elif type_ == "SRV":
        if not _SRV_NAME.match(relative):
            raise ValidationFailed("An SRV name is _service._proto[.name]", field="name")
        parts = content.split()
        if len(parts) != 3 or not parts[0].isdecimal() or not parts[1].isdecimal():
            raise ValidationFailed("SRV content is `weight port target`", field="content")
        if not 0 <= int(parts[0]) <= 65535 or not 0 < int(parts[1]) <= 65535:
            raise ValidationFailed("SRV weight is 0-65535 and port 1-65535", field="content")
        content = f"{int(parts[0])} {int(parts[1])} {_host(parts[2])}"
    elif type_ == "CAA":
        match = _CAA.match(content)
        if not match or int(match.group(1)) > 255:
            raise ValidationFailed('CAA content is `flags tag "value"`', field="content")
    if type_ in PRIORITY_TYPES:
        if priority is None:
            raise ValidationFailed(f"An {type_} record needs a priority", field="priority")
    else:
        priority = None
    return relative, type_, content, priority


class NameConflict(Conflict):
    """A CNAME would share its name with another record (RFC 1034, section 3.6.2)."""

    default_code = "cname_conflict"


class RecordNotOwned(Conflict):
    """Provisioning found a record in its way that it did not create."""

    default_code = "record_not_owned"


def _fqdn(name: str, zone: str) -> str:
    return zone if name == APEX else f"{name}.{zone}"


def cname_conflicts(type_: str, existing: Sequence[DnsRecord]) -> list[DnsRecord]:
    """The records among `existing` (all at one name) that a new `type_` record there would
    clash with: a CNAME clashes with every record, any record with a CNAME."""
    if type_.upper() == "CNAME":
        return list(existing)
    return [r for r in existing if r.type == "CNAME"]


def conflict_message(name: str, zone: str, type_: str, clash: Sequence[DnsRecord]) -> str:
    fqdn = _fqdn(name, zone)
    if type_.upper() == "CNAME":
        types = ", ".join(sorted({r.type for r in clash}))
        return (
            f"{fqdn} already has {types} records: a CNAME cannot share its name with any other "
            "record (RFC 1034, section 3.6.2); delete them first or choose another name"
        )
    target = clash[0].content
    return (
        f"{fqdn} is a CNAME (to {target}): no other record can share its name (RFC 1034, "
        f"section 3.6.2); delete the CNAME first to add a {type_.upper()} record"
    )


async def check_name_free(dns: DnsProvider, zone: str, name: str, type_: str) -> None:
    """Raise `NameConflict` when a `type_` record at `name` would break the CNAME rule."""
    clash = cname_conflicts(type_, await dns.list_records(zone=zone, name=name))
    if clash:
        raise NameConflict(
            conflict_message(name, zone, type_, clash),
            field="name",
            extra={
                "conflicting": [{"id": r.id, "type": r.type, "content": r.content} for r in clash]
            },
        )


@dataclass(frozen=True)
class ZoneRef:
    name: str
    provider: str


class DnsService:
    async def zone(
        self, session: AsyncSession, settings: Settings, principal: Principal, name: str
    ) -> ZoneRef:
        """The zone and its provider, if `principal` may edit it. A zone not registered here is
        the company's, served by the default provider; a customer's zone is always registered."""
        zone = normalize_domain(name, field="zone")
        repository = DnsZoneRepository(session)
        row = await repository.get_readable(principal, zone)
        if row is not None:
            return ZoneRef(zone, row.provider)
        if principal.is_company and await repository.get(zone) is None:
            return ZoneRef(zone, settings.dns_default_provider)
        raise NotFound(f"No zone {zone}", code="zone_not_found")

    async def zones(self, session: AsyncSession, principal: Principal) -> Sequence[DnsZone]:
        return await DnsZoneRepository(session).list_readable(principal)

    async def add_zone(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        principal: Principal,
        *,
        name: str,
        provider: str | None = None,
        nameservers: Sequence[str] = (),
        owner_user_id: int | None = None,
    ) -> DnsZone:
        """Serve `name` from `provider`: the zone is created there unless it exists. It is the
        company's zone unless `owner_user_id` names the customer it belongs to."""
        zone = normalize_domain(name, field="name")
        chosen = provider or settings.dns_default_provider
        if chosen not in connect.dns_providers():
            raise ValidationFailed(
                f"The provider is one of {', '.join(connect.dns_providers())}",
                field="provider",
            )
        repository = DnsZoneRepository(session)
        row = await repository.get(zone)
        if await repository.others_overlapping(principal, zone):
            # On a shared name server the most specific zone answers: neither the zone itself
            # nor one inside or around it may be someone else's.
            raise Conflict(
                f"{zone} is, or overlaps, someone else's zone", code="zone_exists", field="name"
            )
        if row is not None and row.provider != chosen:
            raise ValidationFailed(
                f"{zone} is served by {row.provider}; remove it first", field="provider"
            )
        async with connect.dns(settings, chosen) as dns:
            await ensure_zone(dns, zone, nameservers)
        if row is None:
            row = DnsZone(name=zone, provider=chosen, owner_user_id=owner_user_id)
            if not await insert_first(session, row):  # added meanwhile by another request
                row = await repository.get(zone)
                if row is None or row.provider != chosen:
                    raise Conflict(f"{zone} was added by someone else just now", code="zone_exists")
                return row
            await audit.record(
                session,
                actor,
                "dns.zone.add",
                target_type="dns_zone",
                target_id=zone,
                detail={"provider": chosen},
            )
        return row

    async def remove_zone(
        self, session: AsyncSession, actor: Actor, principal: Principal, name: str
    ) -> None:
        """Forget which provider serves the zone (the zone at the provider stays)."""
        repository = DnsZoneRepository(session)
        row = await repository.get_readable(principal, normalize_domain(name, field="zone"))
        if row is None:
            raise NotFound(f"No zone {name}")
        await repository.delete(row)
        await audit.record(
            session, actor, "dns.zone.remove", target_type="dns_zone", target_id=row.name
        )

    async def records(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        zone: str,
        *,
        name: str | None = None,
        type: str | None = None,
    ) -> tuple[ZoneRef, list[DnsRecord]]:
        ref = await self.zone(session, settings, principal, zone)
        if type is not None and type.upper() not in (*RECORD_TYPES, "NS"):
            raise ValidationFailed(f"The type is one of {', '.join(RECORD_TYPES)}", field="type")
        if name is not None:
            name = validate_name(name, ref.name)
        async with connect.dns(settings, ref.provider) as dns:
            return ref, await dns.list_records(zone=ref.name, name=name, type=type)

    async def create_record(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        principal: Principal,
        zone: str,
        *,
        name: str,
        type: str,
        content: str,
        ttl: int,
        priority: int | None = None,
    ) -> tuple[ZoneRef, DnsRecord]:
        ref = await self.zone(session, settings, principal, zone)
        relative, type_, value, prio = validate_record(ref.name, name, type, content, priority)
        _ttl(ttl)
        async with connect.dns(settings, ref.provider) as dns:
            await check_name_free(dns, ref.name, relative, type_)
            record = await dns.create_record(
                zone=ref.name, name=relative, type=type_, content=value, ttl=ttl, priority=prio
            )
        await audit.record(
            session,
            actor,
            "dns.record.create",
            target_type="dns_zone",
            target_id=ref.name,
            detail={"name": relative, "type": type_, "content": value, "ttl": ttl},
        )
        return ref, record

    async def update_record(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        principal: Principal,
        zone: str,
        record_id: str,
        *,
        content: str | None = None,
        ttl: int | None = None,
        priority: int | None = None,
    ) -> tuple[ZoneRef, DnsRecord]:
        ref = await self.zone(session, settings, principal, zone)
        if ttl is not None:
            _ttl(ttl)
        async with connect.dns(settings, ref.provider) as dns:
            current = await _find(dns, ref.name, record_id)
            if content is not None or priority is not None:
                _, _, content, priority = validate_record(
                    ref.name,
                    current.name,
                    current.type,
                    content if content is not None else current.content,
                    priority if priority is not None else current.priority,
                )
            record = await dns.update_record(
                zone=ref.name, record_id=record_id, content=content, ttl=ttl, priority=priority
            )
        await audit.record(
            session,
            actor,
            "dns.record.update",
            target_type="dns_zone",
            target_id=ref.name,
            detail={"name": record.name, "type": record.type, "content": record.content},
        )
        return ref, record

    async def delete_record(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        principal: Principal,
        zone: str,
        record_id: str,
    ) -> None:
        ref = await self.zone(session, settings, principal, zone)
        async with connect.dns(settings, ref.provider) as dns:
            current = await _find(dns, ref.name, record_id)
            await dns.delete_record(zone=ref.name, record_id=record_id)
        await audit.record(
            session,
            actor,
            "dns.record.delete",
            target_type="dns_zone",
            target_id=ref.name,
            detail={"name": current.name, "type": current.type, "content": current.content},
        )


def _ttl(ttl: int) -> None:
    if not 60 <= ttl <= 86400:
        raise ValidationFailed("The TTL is 60-86400 seconds", field="ttl")


async def _find(dns: DnsProvider, zone: str, record_id: str) -> DnsRecord:
    for record in await dns.list_records(zone=zone):
        if record.id == record_id:
            return record
    raise ProviderError(NOT_FOUND, f"No record {record_id} in {zone}", provider=dns.name)


async def setup_project_dns(
    dns: DnsProvider,
    domain: str,
    server_ip: str,
    *,
    ttl: int = 3600,
    owned: Collection[str] = (),
    names: Sequence[str] = PROJECT_NAMES,
) -> list[DnsRecord]:
    """A records for `domain` and `www.domain` (or `names`) → `server_ip`; safe to run any
    number of times. A CNAME at one of the names is deleted when its id is in `owned` (the
    project created it); any other CNAME there stops with `RecordNotOwned`, before anything is
    written."""
    address = ipaddress.ip_address(server_ip)
    type_ = "A" if address.version == 4 else "AAAA"
    await ensure_zone(dns, domain)
    in_the_way: list[DnsRecord] = []
    for name in names:
        for record in cname_conflicts(type_, await dns.list_records(zone=domain, name=name)):
            if record.id not in owned:
                raise RecordNotOwned(
                    f"{_fqdn(name, domain)} is a CNAME (to {record.content}) that this project "
                    f"did not create; an {type_} record cannot share its name (RFC 1034, "
                    "section 3.6.2). Delete or change that record, then retry",
                    extra={"record": {"id": record.id, "name": name, "type": record.type}},
                )
            in_the_way.append(record)
    for record in in_the_way:
        try:
            await dns.delete_record(zone=domain, record_id=record.id)
        except ProviderError as error:
            if error.code != NOT_FOUND:
                raise
    result = []
    for name in names:
        existing = await dns.list_records(zone=domain, name=name, type=type_)
        if not existing:
            record = await dns.create_record(
                zone=domain, name=name, type=type_, content=str(address), ttl=ttl
            )
        else:
            first, *extra = existing
            record = first
            if first.content != str(address) or first.ttl != ttl:
                record = await dns.update_record(
                    zone=domain, record_id=first.id, content=str(address), ttl=ttl
                )
            for duplicate in extra:
                await dns.delete_record(zone=domain, record_id=duplicate.id)
        result.append(record)
    return result


dns_service = DnsService()
