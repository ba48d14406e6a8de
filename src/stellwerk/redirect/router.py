"""HTTP for redirects: the public `/api/v1` (nexredirect-api.md), verify, and the TLS `ask`."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import PlainTextResponse

from stellwerk.database import SessionDep
from stellwerk.exceptions import ValidationFailed
from stellwerk.identity.auth import RuntimeDep, get_runtime
from stellwerk.models import RedirectDomain
from stellwerk.redirect import service, version
from stellwerk.redirect.auth import (
    LoggedIn,
    ReadAnalytics,
    ReadDomains,
    ReadHits,
    WriteDomains,
    owner_scope,
)
from stellwerk.redirect.schemas import (
    CountryCount,
    DailyPoint,
    DnsRecord,
    DomainCreate,
    DomainCreated,
    DomainDeleted,
    DomainList,
    DomainOut,
    DomainStats,
    Health,
    HitList,
    HitOut,
    RecordCheck,
    Summary,
    TopDomain,
    VerifyResult,
    Version,
)
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_responses


async def _sunset(response: Response, runtime: Annotated[Runtime, Depends(get_runtime)]) -> None:
    """Once a sunset date is configured, every `/api/v1` answer announces it."""
    sunset = runtime.settings.api_v1_sunset
    if sunset:
        response.headers["Sunset"] = sunset
        response.headers["Deprecation"] = "true"


v1 = APIRouter(
    prefix="/api/v1",
    tags=["redirects"],
    dependencies=[Depends(_sunset)],
    responses=error_responses(Surface.REDIRECT),
)
router = APIRouter(tags=["redirects"], responses=error_responses(Surface.GENERIC))

DaysQuery = Annotated[int, Query(ge=1, le=service.MAX_STATS_DAYS, description="UTC days back")]
DomainId = Annotated[int, Query(ge=1)]


@v1.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness check. No token needed."""
    return Health(ok=True, ts=int(time.time() * 1000))


@v1.get("/version", response_model=Version)
async def get_version(runtime: RuntimeDep) -> Version:
    """This version and whether the release feed knows a newer one. No token needed."""
    return Version.model_validate(await version.version_info(runtime.settings))


@v1.get("/domains", response_model=DomainList)
async def list_domains(
    subject: ReadDomains,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DomainList:
    """Your redirect domains (every user's for admins), oldest first."""
    rows, total = await service.domain.page(
        session, owner_id=owner_scope(subject), offset=(page - 1) * per_page, limit=per_page
    )
    return DomainList(
        domains=[DomainOut.of(d) for d in rows], total=total, page=page, per_page=per_page
    )


def _created(runtime: Runtime, record: RedirectDomain) -> DomainCreated:
    records = service.domain.dns_records(runtime.settings, record)
    return DomainCreated(
        domain=DomainOut.of(record),
        dns_records=[DnsRecord.model_validate(r, from_attributes=True) for r in records],
    )


@v1.post("/domains", response_model=DomainCreated, status_code=status.HTTP_201_CREATED)
async def create_domain(
    body: DomainCreate, subject: WriteDomains, session: SessionDep, runtime: RuntimeDep
) -> DomainCreated:
    """Add a domain (status `pending`) and get the DNS records to set for it."""
    record = await service.domain.create(
        session,
        subject.actor,
        subject.user,
        domain=body.domain,
        target_url=body.target_url,
        redirect_code=body.redirect_code,
        preserve_path=body.preserve_path,
        include_www=body.include_www,
    )
    return _created(runtime, record)


@v1.get("/domains/{domain_id}", response_model=DomainCreated)
async def get_domain(
    domain_id: int, subject: ReadDomains, session: SessionDep, runtime: RuntimeDep
) -> DomainCreated:
    """One domain with the DNS records it needs."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    return _created(runtime, record)


@v1.delete("/domains/{domain_id}", response_model=DomainDeleted)
async def delete_domain(
    domain_id: int, subject: WriteDomains, session: SessionDep
) -> DomainDeleted:
    """Delete a domain with its hits; the data plane stops answering for it within a second."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    await service.domain.delete(session, subject.actor, record)
    return DomainDeleted(id=domain_id)


def _daily(points: list[service.DailyPoint]) -> list[DailyPoint]:
    return [DailyPoint(day=p.day.isoformat(), hits=p.hits, visitors=p.visitors) for p in points]


def _countries(rows: list[tuple[str | None, int]]) -> list[CountryCount]:
    return [CountryCount(country=country, hits=hits) for country, hits in rows]


@v1.get("/domains/{domain_id}/stats", response_model=DomainStats)
async def domain_stats(
    domain_id: int, subject: ReadAnalytics, session: SessionDep, days: DaysQuery = 30
) -> DomainStats:
    """Daily hits and visitors (zero days included) and hits by country."""
    await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    result = await service.stats.for_domains(
        session, domain_ids=[domain_id], owner_id=None, days=days, with_top=False
    )
    return DomainStats(
        domain_id=domain_id,
        days=days,
        total=result.total,
        daily=_daily(result.daily),
        by_country=_countries(result.by_country),
    )


@v1.get("/analytics/summary", response_model=Summary)
async def summary(subject: ReadAnalytics, session: SessionDep, days: DaysQuery = 30) -> Summary:
    """All your domains together; `top` lists every domain, zero-hit ones included."""
    owner_id = owner_scope(subject)
    domain_ids = None
    if owner_id is not None:
        rows, _ = await service.domain.page(session, owner_id=owner_id, limit=None)
        domain_ids = [d.id for d in rows]
    result = await service.stats.for_domains(
        session, domain_ids=domain_ids, owner_id=owner_id, days=days, with_top=True
    )
    return Summary(
        days=days,
        total=result.total,
        daily=_daily(result.daily),
        top=[TopDomain(id=i, domain=name, hits=hits) for i, name, hits in result.top],
        by_country=_countries(result.by_country),
    )


@v1.get("/hits", response_model=HitList)
async def list_hits(
    subject: ReadHits,
    session: SessionDep,
    domain_id: DomainId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> HitList:
    """Raw hits, newest first: a daily visitor hash, never an IP address."""
    before_id = None
    if cursor is not None:
        if not cursor.isdecimal():  # isdigit() lets "³" through to int()
            raise ValidationFailed(
                "cursor must be a `next_cursor` value", field="cursor", extra={"field": "cursor"}
            )
        before_id = int(cursor)
    hits = await service.hit.recent(
        session,
        owner_id=owner_scope(subject),
        domain_id=domain_id,
        before_id=before_id,
        limit=limit,
    )
    next_cursor = str(hits[-1].id) if len(hits) == limit else None
    return HitList(hits=[HitOut.of(h) for h in hits], next_cursor=next_cursor)


@router.post("/api/domains/{domain_id}/verify", response_model=VerifyResult)
async def verify_domain(
    domain_id: int, subject: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> VerifyResult:
    """Check the domain's DNS records; when they all point here, the domain becomes `active`."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    result = await service.domain.verify(session, subject.actor, record, settings=runtime.settings)
    return VerifyResult(
        verified=result.verified,
        domain=DomainOut.of(result.domain),
        checks=[RecordCheck.model_validate(c, from_attributes=True) for c in result.checks],
        message=result.message,
    )


@router.get(
    "/api/redirect/tls-ask",
    # Plain text for Caddy; refused input still gets the JSON error envelope.
    response_class=Response,
    responses={
        200: {"description": "Allowed", "content": {"text/plain": {}}},
        404: {"description": "Not an active domain", "content": {"text/plain": {}}},
    },
)
async def tls_ask(
    session: SessionDep, domain: Annotated[str, Query(max_length=300)] = ""
) -> PlainTextResponse:
    """For Caddy's on-demand TLS: may a certificate be obtained for `domain`? Only active ones."""
    if await service.domain.is_active_host(session, domain):
        return PlainTextResponse("ok")
    return PlainTextResponse("not an active redirect domain", status_code=404)
