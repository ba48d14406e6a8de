"""HTTP for DNS: zones and their records at `/api/dns/zones/{zone}/records...`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from stellwerk.database import SessionDep
from stellwerk.dns.auth import DnsReader, DnsWriter, ZoneManager
from stellwerk.dns.schemas import RecordCreate, RecordRead, RecordUpdate, ZoneCreate, ZoneRead
from stellwerk.dns.service import ZoneRef, dns_service
from stellwerk.identity.auth import RuntimeDep
from stellwerk.provider.dns.base import DnsRecord
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["dns"], responses=error_responses(Surface.GENERIC))


def _read(ref: ZoneRef, record: DnsRecord) -> RecordRead:
    return RecordRead(
        id=record.id,
        zone=ref.name,
        name=record.name,
        fqdn=record.fqdn,
        type=record.type,
        content=record.content,
        ttl=record.ttl,
        priority=record.priority,
        provider=ref.provider,
    )


@router.get("/api/dns/zones", response_model=list[ZoneRead])
async def list_zones(subject: DnsReader, session: SessionDep) -> list[ZoneRead]:
    """Your zones with their provider: a customer's own, the company's for staff, all for
    admins."""
    return [ZoneRead.model_validate(z) for z in await dns_service.zones(session, subject.principal)]


@router.post("/api/dns/zones", response_model=ZoneRead, status_code=status.HTTP_201_CREATED)
async def add_zone(
    body: ZoneCreate, subject: ZoneManager, session: SessionDep, runtime: RuntimeDep
) -> ZoneRead:
    """Choose the provider for a company zone; the zone is created there unless it exists.
    Staff and admins only: a customer's zones come with their projects and domains."""
    row = await dns_service.add_zone(
        session,
        runtime.settings,
        subject.actor,
        subject.principal,
        name=body.name,
        provider=body.provider,
        nameservers=body.nameservers,
    )
    return ZoneRead.model_validate(row)


@router.delete("/api/dns/zones/{zone}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_zone(zone: str, subject: ZoneManager, session: SessionDep) -> Response:
    """Forget the zone's provider choice (records at the provider stay)."""
    await dns_service.remove_zone(session, subject.actor, subject.principal, zone)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/dns/zones/{zone}/records", response_model=list[RecordRead])
async def list_records(
    zone: str,
    subject: DnsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    name: Annotated[str | None, Query(max_length=253)] = None,
    type: Annotated[str | None, Query(max_length=10)] = None,
) -> list[RecordRead]:
    ref, records = await dns_service.records(
        session, runtime.settings, subject.principal, zone, name=name, type=type
    )
    return [_read(ref, r) for r in records]


@router.post(
    "/api/dns/zones/{zone}/records",
    response_model=RecordRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_record(
    zone: str, body: RecordCreate, subject: DnsWriter, session: SessionDep, runtime: RuntimeDep
) -> RecordRead:
    ref, record = await dns_service.create_record(
        session,
        runtime.settings,
        subject.actor,
        subject.principal,
        zone,
        name=body.name,
        type=body.type,
        content=body.content,
        ttl=body.ttl,
        priority=body.priority,
    )
    return _read(ref, record)


@router.put("/api/dns/zones/{zone}/records/{record_id}", response_model=RecordRead)
async def update_record(
    zone: str,
    record_id: str,
    body: RecordUpdate,
    subject: DnsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> RecordRead:
    """Change a record's content, TTL or priority. Its id may change (PowerDNS derives ids from
    the value): use the returned one."""
    ref, record = await dns_service.update_record(
        session,
        runtime.settings,
        subject.actor,
        subject.principal,
        zone,
        record_id,
        content=body.content,
        ttl=body.ttl,
        priority=body.priority,
    )
    return _read(ref, record)


@router.delete("/api/dns/zones/{zone}/records/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_record(
    zone: str, record_id: str, subject: DnsWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await dns_service.delete_record(
        session, runtime.settings, subject.actor, subject.principal, zone, record_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
