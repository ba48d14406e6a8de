"""HTTP for redirects: the public `/api/v1` (nexredirect-api.md), verify, and the TLS `ask`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.database import SessionDep
from stellwerk.exceptions import BadRequest, PayloadTooLarge, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep, get_runtime
from stellwerk.kit.time import epoch_ms, iso, utc_now
from stellwerk.models import RedirectDomain, RedirectGroup
from stellwerk.redirect import qr, service, version
from stellwerk.redirect.auth import (
    LoggedIn,
    ReadAnalytics,
    ReadDomains,
    ReadHits,
    WriteDomains,
    owner_scope,
)
from stellwerk.redirect.checks import checks
from stellwerk.redirect.csvfiles import csv_files
from stellwerk.redirect.names import normalize_domain
from stellwerk.redirect.repository import DomainFilter
from stellwerk.redirect.schemas import (
    BulkAction,
    BulkResult,
    CountryCount,
    DailyPoint,
    DeviceCount,
    DnsRecord,
    DomainCreate,
    DomainCreated,
    DomainDeleted,
    DomainEnvelope,
    DomainList,
    DomainOut,
    DomainPatch,
    DomainPut,
    DomainStats,
    GroupCreate,
    GroupDeleted,
    GroupEnvelope,
    GroupList,
    GroupOut,
    GroupPatch,
    Health,
    HitList,
    HitOut,
    HourPoint,
    ImportReport,
    NameCount,
    PathCount,
    RecordCheck,
    ReferrerCount,
    Summary,
    SunsetConfig,
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

MAX_CSV_BYTES = 5 * 2**20
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"description": "CSV, streamed", "content": {"text/csv": {}}}
}


def _csv_download(chunks: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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


BotsQuery = Annotated[
    Literal["exclude", "include"],
    Query(description="`include` counts bots in the totals (the counts before bots were apart)"),
]


def _domain_filter(
    subject: AuthSubject,
    group_id: int | None,
    status: str | None,
    q: str | None,
    target: str | None,
    sunset: bool | None,
) -> DomainFilter:
    return DomainFilter(
        owner_id=owner_scope(subject),
        group_id=group_id,
        status=status,
        search=q,
        target_status=target,
        sunset=sunset,
    )


GroupQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only this group")]
StatusQuery = Annotated[Literal["pending", "active", "dns_error"] | None, Query()]
SearchQuery = Annotated[
    str | None, Query(max_length=200, description="Part of the domain or target")
]
TargetQuery = Annotated[
    Literal["ok", "failing"] | None, Query(description="Result of the last target check")
]
SunsetQuery = Annotated[bool | None, Query(description="Only sunset (or only redirecting) ones")]


@v1.get("/domains", response_model=DomainList)
async def list_domains(
    subject: ReadDomains,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
    group_id: GroupQuery = None,
    status: StatusQuery = None,
    q: SearchQuery = None,
    target: TargetQuery = None,
    sunset: SunsetQuery = None,
    bots: BotsQuery = "exclude",
) -> DomainList:
    """Your redirect domains (every user's for admins), oldest first, optionally filtered."""
    where = _domain_filter(subject, group_id, status, q, target, sunset)
    rows, total = await service.domain.page(
        session, where=where, offset=(page - 1) * per_page, limit=per_page
    )
    include = bots == "include"
    return DomainList(
        domains=[DomainOut.of(d, include_bots=include) for d in rows],
        total=total,
        page=page,
        per_page=per_page,
    )


def _created(
    runtime: Runtime, record: RedirectDomain, *, include_bots: bool = False
) -> DomainCreated:
    records = service.domain.dns_records(runtime.settings, record)
    return DomainCreated(
        domain=DomainOut.of(record, include_bots=include_bots),
        dns_records=[DnsRecord.model_validate(r, from_attributes=True) for r in records],
    )


def _sunset_dict(config: SunsetConfig | None) -> dict[str, Any] | None:
    return None if config is None else config.model_dump()


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
        group_id=body.group_id,
        sunset_config=_sunset_dict(body.sunset_config),
    )
    return _created(runtime, record)


@v1.get("/domains/export.csv", response_class=StreamingResponse, responses=_CSV)
async def export_domains(
    subject: ReadDomains,
    runtime: RuntimeDep,
    group_id: GroupQuery = None,
    status: StatusQuery = None,
    q: SearchQuery = None,
    target: TargetQuery = None,
    sunset: SunsetQuery = None,
) -> StreamingResponse:
    """Your domains as CSV (streamed); importing the file again changes nothing."""
    where = _domain_filter(subject, group_id, status, q, target, sunset)
    return _csv_download(
        csv_files.export_domains(runtime.database, where), f"domains-{utc_now():%Y-%m-%d}.csv"
    )


@v1.post(
    "/domains/import.csv",
    response_model=ImportReport,
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_domains(
    request: Request,
    subject: WriteDomains,
    session: SessionDep,
    dry_run: Annotated[
        bool, Query(description="Report what each row would do, change nothing")
    ] = True,
) -> ImportReport:
    """Create or update your domains from a CSV (the export's columns). A dry run by default:
    send `dry_run=false` to apply. Rows with errors are reported and skipped."""
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise PayloadTooLarge(f"A CSV file may have at most {MAX_CSV_BYTES // 2**20} MB")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequest("The file must be UTF-8 text", code="invalid_csv") from error
    report = await csv_files.import_domains(
        session, subject.actor, subject.user, text, dry_run=dry_run
    )
    return ImportReport.of(report)


@v1.post("/domains/bulk", response_model=BulkResult)
async def bulk_domains(body: BulkAction, subject: WriteDomains, session: SessionDep) -> BulkResult:
    """One action on `domain_ids` or on every domain of `group_id`, all or nothing:
    `set_target` (with `target_url`, optional `redirect_code`; on a group it becomes the group's
    target too), `sunset` (with `sunset_config`), `unsunset`, `set_group` (`to_group_id`, null
    for none) or `delete`."""
    owner_id = owner_scope(subject)
    domains = await service.domain.select(
        session, owner_id=owner_id, domain_ids=body.domain_ids, group_id=body.group_id
    )
    group = None
    if body.group_id is not None:
        group = await service.group_service.get(session, body.group_id, owner_id=owner_id)
    ids = await service.domain.bulk(
        session,
        subject.actor,
        domains,
        action=body.action,
        target_url=body.target_url,
        redirect_code=body.redirect_code,
        sunset_config=_sunset_dict(body.sunset_config),
        to_group_id=body.to_group_id,
        group=group,
    )
    return BulkResult(action=body.action, affected=len(ids), domain_ids=ids)


@v1.get("/domains/{domain_id}", response_model=DomainCreated)
async def get_domain(
    domain_id: int,
    subject: ReadDomains,
    session: SessionDep,
    runtime: RuntimeDep,
    bots: BotsQuery = "exclude",
) -> DomainCreated:
    """One domain with the DNS records it needs."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    return _created(runtime, record, include_bots=bots == "include")


def _name_or_none(raw: str) -> str | None:
    try:
        return normalize_domain(raw)
    except ValidationFailed:
        return None


async def _edit(
    session: AsyncSession,
    subject: AuthSubject,
    domain_id: int,
    body: DomainPatch | DomainPut,
    changes: dict[str, Any],
) -> RedirectDomain:
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    if body.domain is not None and _name_or_none(body.domain) != record.domain:
        raise ValidationFailed(
            "The domain name cannot be changed; add a new domain instead",
            code="domain_immutable",
            field="domain",
            extra={"field": "domain"},
        )
    if "sunset_config" in changes:
        changes["sunset_config"] = _sunset_dict(body.sunset_config)
    await service.domain.update(session, subject.actor, record, changes)
    return record


@v1.patch("/domains/{domain_id}", response_model=DomainEnvelope)
async def patch_domain(
    domain_id: int, body: DomainPatch, subject: WriteDomains, session: SessionDep
) -> DomainEnvelope:
    """Change some of a domain's settings (not its name); the data plane follows within a
    second and the domain keeps its hits."""
    changes = body.model_dump(exclude_unset=True, exclude={"domain"})
    for name in ("target_url", "redirect_code", "preserve_path", "include_www"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name, extra={"field": name})
    record = await _edit(session, subject, domain_id, body, changes)
    return DomainEnvelope(domain=DomainOut.of(record))


@v1.put("/domains/{domain_id}", response_model=DomainEnvelope)
async def put_domain(
    domain_id: int, body: DomainPut, subject: WriteDomains, session: SessionDep
) -> DomainEnvelope:
    """Replace a domain's settings (not its name): what the body leaves out takes its default
    (`redirect_code` 301, `preserve_path` and `include_www` true, no group, no sunset page)."""
    changes = body.model_dump(exclude={"domain"})
    record = await _edit(session, subject, domain_id, body, changes)
    return DomainEnvelope(domain=DomainOut.of(record))


@v1.delete("/domains/{domain_id}", response_model=DomainDeleted)
async def delete_domain(
    domain_id: int, subject: WriteDomains, session: SessionDep
) -> DomainDeleted:
    """Delete a domain with its hits; the data plane stops answering for it within a second."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    await service.domain.delete(session, subject.actor, record)
    return DomainDeleted(id=domain_id)


@v1.get(
    "/domains/{domain_id}/qr.{kind}",
    response_class=Response,
    responses={
        200: {
            "description": "The QR code",
            "content": {"image/svg+xml": {}, "image/png": {}},
        }
    },
)
async def domain_qr(
    domain_id: int,
    kind: qr.QrFormat,
    subject: ReadDomains,
    session: SessionDep,
    scale: Annotated[int, Query(ge=1, le=40, description="Pixels per module")] = 8,
) -> Response:
    """A QR code opening `https://<domain>/`, as SVG or PNG."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    return Response(
        qr.render(record.domain, kind, scale=scale),
        media_type=qr.MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": f'inline; filename="{record.domain}-qr.{kind}"',
            "Cache-Control": "private, max-age=3600",
        },
    )


@v1.post("/domains/{domain_id}/check", response_model=DomainEnvelope)
async def check_domain(
    domain_id: int, subject: WriteDomains, session: SessionDep, runtime: RuntimeDep
) -> DomainEnvelope:
    """Check the target now: redirect chain, loops, final status and certificate expiry."""
    record = await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    await checks.check(session, record, runtime.settings)
    return DomainEnvelope(domain=DomainOut.of(record))


def _daily(points: list[service.DailyPoint]) -> list[DailyPoint]:
    return [
        DailyPoint(day=p.day.isoformat(), hits=p.hits, visitors=p.visitors, bots=p.bots)
        for p in points
    ]


def _hourly(points: list[service.HourPoint] | None) -> list[HourPoint] | None:
    if points is None:
        return None
    return [HourPoint(hour=iso(p.hour) or "", hits=p.hits, bots=p.bots) for p in points]


def _breakdowns(result: service.Stats) -> dict[str, Any]:
    b = result.breakdowns
    return {
        "by_country": [CountryCount(country=v, hits=n) for v, n in b["country"]],
        "referrers": [ReferrerCount(host=v, hits=n) for v, n in b["referrer"]],
        "paths": [PathCount(path=v or "/", hits=n) for v, n in b["path"]],
        "browsers": [NameCount(name=v, hits=n) for v, n in b["browser"]],
        "os": [NameCount(name=v, hits=n) for v, n in b["os"]],
        "devices": [DeviceCount(device=v, hits=n) for v, n in b["device"]],
    }


@v1.get("/domains/{domain_id}/stats", response_model=DomainStats)
async def domain_stats(
    domain_id: int,
    subject: ReadAnalytics,
    session: SessionDep,
    days: DaysQuery = 30,
    bots: BotsQuery = "exclude",
) -> DomainStats:
    """Human hits per day (zero days included; hour by hour for 1 or 2 days) with the bots
    beside them, and the top countries, referrers, paths, browsers, systems and devices."""
    await service.domain.get(session, domain_id, owner_id=owner_scope(subject))
    result = await service.stats.for_domain(
        session, domain_id, days=days, include_bots=bots == "include"
    )
    return DomainStats(
        domain_id=domain_id,
        days=days,
        total=result.total,
        bots=result.bots,
        daily=_daily(result.daily),
        hourly=_hourly(result.hourly),
        **_breakdowns(result),
    )


@v1.get("/analytics/summary", response_model=Summary)
async def summary(
    subject: ReadAnalytics,
    session: SessionDep,
    days: DaysQuery = 30,
    group_id: GroupQuery = None,
    bots: BotsQuery = "exclude",
) -> Summary:
    """All your domains together (or one group's); `top` lists every domain, zero-hit ones
    included."""
    owner_id = owner_scope(subject)
    if group_id is not None:
        await service.group_service.get(session, group_id, owner_id=owner_id)
    result = await service.stats.summary(
        session,
        owner_id=owner_id,
        group_id=group_id,
        days=days,
        include_bots=bots == "include",
    )
    return Summary(
        days=days,
        group_id=group_id,
        total=result.total,
        bots=result.bots,
        daily=_daily(result.daily),
        hourly=_hourly(result.hourly),
        top=[TopDomain(id=t.id, domain=t.domain, hits=t.hits, bots=t.bots) for t in result.top],
        **_breakdowns(result),
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


@v1.get("/hits/export.csv", response_class=StreamingResponse, responses=_CSV)
async def export_hits(
    subject: ReadHits,
    session: SessionDep,
    runtime: RuntimeDep,
    domain_id: DomainId | None = None,
    since: Annotated[dt.date | None, Query(alias="from", description="First UTC day")] = None,
    until: Annotated[dt.date | None, Query(alias="to", description="Last UTC day")] = None,
) -> StreamingResponse:
    """Hits as CSV, newest first, streamed: the daily visitor hash (`ip_hash`), never an
    address. `from`/`to` are UTC days, both included."""
    if since and until and until < since:
        raise ValidationFailed("`to` is before `from`", field="to", extra={"field": "to"})
    domain_ids, orphans = await service.hit.visible(
        session, owner_id=owner_scope(subject), domain_id=domain_id
    )
    since_ms = epoch_ms(dt.datetime.combine(since, dt.time(), dt.UTC)) if since else None
    until_ms = (
        epoch_ms(dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC))
        if until
        else None
    )
    stream = csv_files.export_hits(
        runtime.database,
        domain_ids=domain_ids,
        include_orphans=orphans,
        since_ms=since_ms,
        until_ms=until_ms,
    )
    return _csv_download(stream, f"hits-{utc_now():%Y-%m-%d}.csv")


# -- groups ------------------------------------------------------------------------------------


@v1.get("/groups", response_model=GroupList)
async def list_groups(subject: ReadDomains, session: SessionDep) -> GroupList:
    """Your groups (every user's for admins) by name, with how many domains each holds."""
    rows = await service.group_service.list(session, owner_id=owner_scope(subject))
    return GroupList(groups=[GroupOut.of(g, n) for g, n in rows])


async def _group_out(session: AsyncSession, group: RedirectGroup) -> GroupOut:
    held = await service.domain.page(
        session, where=DomainFilter(owner_id=group.owner_id, group_id=group.id), limit=0
    )
    return GroupOut.of(group, held[1])


@v1.post("/groups", response_model=GroupEnvelope, status_code=status.HTTP_201_CREATED)
async def create_group(
    body: GroupCreate, subject: WriteDomains, session: SessionDep
) -> GroupEnvelope:
    """A named group with a colour (and optionally a target that `set_target` on the group and
    new domains without a target of their own use)."""
    group = await service.group_service.create(
        session,
        subject.actor,
        subject.user,
        name=body.name,
        color=body.color,
        target_url=body.target_url,
        redirect_code=body.redirect_code,
    )
    return GroupEnvelope(group=GroupOut.of(group, 0))


@v1.get("/groups/{group_id}", response_model=GroupEnvelope)
async def get_group(group_id: int, subject: ReadDomains, session: SessionDep) -> GroupEnvelope:
    group = await service.group_service.get(session, group_id, owner_id=owner_scope(subject))
    return GroupEnvelope(group=await _group_out(session, group))


@v1.patch("/groups/{group_id}", response_model=GroupEnvelope)
async def patch_group(
    group_id: int, body: GroupPatch, subject: WriteDomains, session: SessionDep
) -> GroupEnvelope:
    """Rename, recolour or retarget a group (its domains keep their own targets; use the
    bulk `set_target` to change them)."""
    group = await service.group_service.get(session, group_id, owner_id=owner_scope(subject))
    await service.group_service.update(
        session, subject.actor, group, body.model_dump(exclude_unset=True)
    )
    return GroupEnvelope(group=await _group_out(session, group))


@v1.delete("/groups/{group_id}", response_model=GroupDeleted)
async def delete_group(group_id: int, subject: WriteDomains, session: SessionDep) -> GroupDeleted:
    """Delete a group; its domains stay, without a group (the bulk `delete` removes them)."""
    group = await service.group_service.get(session, group_id, owner_id=owner_scope(subject))
    held = await service.group_service.delete(session, subject.actor, group)
    return GroupDeleted(id=group_id, domains_ungrouped=held)


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
