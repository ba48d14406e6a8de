"""Request and response bodies of `/api/v1` (nexredirect-api.md) and the verify endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from stellwerk.kit.body import LenientBody, StrictBody
from stellwerk.kit.time import epoch_ms
from stellwerk.models import RedirectDomain, RedirectGroup, RedirectHit


def _flag(value: Any) -> bool:
    """The document's booleans: JSON true/false, or 1/0 (also as strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError("must be true, false, 1 or 0")


Flag = Annotated[bool, BeforeValidator(_flag)]


class SunsetConfig(StrictBody):
    """A sunset page instead of the redirect (field names as in the original product)."""

    enabled: Flag = Field(True, description="false (or a null `sunset_config`) redirects again")
    status_code: Literal[410, 200] = Field(
        410, description="410: the site has been closed; 200: the site has moved"
    )
    sunset_date: dt.date | None = Field(
        None, description="When the old address goes away; sent as the `Sunset` header"
    )
    title: str | None = Field(None, max_length=200)
    message: str | None = Field(None, max_length=2000)
    button_label: str | None = Field(None, max_length=50, description="Default: Continue")
    company_name: str | None = Field(None, max_length=200)

    @field_validator("sunset_date", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        """`DD.MM.YYYY` as well as ISO dates, as the original product's form accepted."""
        if isinstance(value, str) and value.count(".") == 2:
            day, month, year = value.strip().split(".")
            return f"{year}-{month.zfill(2)}-{day.zfill(2)}"
        return value

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> SunsetConfig | None:
        return None if stored is None else cls.model_validate(stored)


class DomainCreate(LenientBody):
    domain: str = Field(min_length=1, max_length=300, examples=["alt-firma.de"])
    target_url: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        examples=["https://www.firma.de"],
        description="Required unless the group has a target",
    )
    redirect_code: Literal[301, 302, 307, 308] | None = Field(
        None, description="Default: the group's, else 301"
    )
    preserve_path: Flag = True
    include_www: Flag = True
    group_id: int | None = Field(None, ge=1, le=2**31 - 1)
    sunset_config: SunsetConfig | None = None


class DomainPatch(StrictBody):
    """`PATCH`: only the fields given change. The domain name cannot change."""

    domain: str | None = Field(None, description="Only the domain's own name is accepted")
    target_url: str | None = Field(None, min_length=1, max_length=2048)
    redirect_code: Literal[301, 302, 307, 308] | None = None
    preserve_path: Flag | None = None
    include_www: Flag | None = None
    group_id: int | None = Field(None, ge=1, le=2**31 - 1, description="null: no group")
    sunset_config: SunsetConfig | None = Field(None, description="null: redirect again")


class DomainPut(StrictBody):
    """`PUT`: the whole editable state; what is left out takes its default."""

    domain: str | None = Field(None, description="Only the domain's own name is accepted")
    target_url: str = Field(min_length=1, max_length=2048)
    redirect_code: Literal[301, 302, 307, 308] = 301
    preserve_path: Flag = True
    include_www: Flag = True
    group_id: int | None = Field(None, ge=1, le=2**31 - 1)
    sunset_config: SunsetConfig | None = None


class TargetCheckOut(BaseModel):
    ok: bool
    checked_at: int = Field(description="Epoch milliseconds")
    chain_length: int = Field(description="Redirects followed from the target")
    loop: bool
    final_url: str | None
    final_status: int | None
    cert_expires_at: int | None = Field(description="Epoch milliseconds (https only)")
    error: str | None
    hops: list[dict[str, Any]]
    failing_since: int | None


class DomainOut(BaseModel):
    id: int
    domain: str
    status: Literal["pending", "active", "dns_error"]
    target_url: str
    redirect_code: int
    preserve_path: Literal[0, 1]
    include_www: Literal[0, 1]
    total_hits: int = Field(description="Human hits (all hits with `?bots=include`)")
    bots: int = Field(description="Hits by bots, crawlers and scanners")
    last_hit: int | None = Field(description="Epoch milliseconds of the newest hit")
    created_at: int = Field(description="Epoch milliseconds")
    verified_at: int | None = Field(description="Epoch milliseconds of the first verification")
    dns_checked_at: int | None
    dns_message: str | None = Field(description="Why the last DNS check failed, if it did")
    group_id: int | None
    sunset_config: SunsetConfig | None = Field(description="Set: a sunset page is served")
    target_status: Literal["ok", "failing"] | None = Field(
        description="Result of the last target check; null before the first"
    )
    target_check: TargetCheckOut | None

    @classmethod
    def of(cls, domain: RedirectDomain, *, include_bots: bool = False) -> DomainOut:
        check = None
        if domain.target_check is not None and domain.target_checked_at is not None:
            failing = domain.target_failing_since
            check = TargetCheckOut.model_validate(
                {
                    **domain.target_check,
                    "checked_at": epoch_ms(domain.target_checked_at),
                    "failing_since": epoch_ms(failing) if failing else None,
                }
            )
        return cls(
            id=domain.id,
            domain=domain.domain,
            status=domain.status,
            target_url=domain.target_url,
            redirect_code=domain.redirect_code,
            preserve_path=1 if domain.preserve_path else 0,
            include_www=1 if domain.include_www else 0,
            total_hits=domain.total_hits if include_bots else domain.total_hits - domain.bot_hits,
            bots=domain.bot_hits,
            last_hit=domain.last_hit,
            created_at=epoch_ms(domain.created_at),
            verified_at=epoch_ms(domain.verified_at) if domain.verified_at else None,
            dns_checked_at=epoch_ms(domain.dns_checked_at) if domain.dns_checked_at else None,
            dns_message=domain.dns_message,
            group_id=domain.group_id,
            sunset_config=SunsetConfig.of(domain.sunset_config),
            target_status=domain.target_status,
            target_check=check,
        )


class DomainList(BaseModel):
    domains: list[DomainOut]
    total: int
    page: int
    per_page: int


class DomainEnvelope(BaseModel):
    domain: DomainOut


class DnsRecord(BaseModel):
    type: Literal["A", "AAAA"]
    name: str
    value: str


class DomainCreated(BaseModel):
    domain: DomainOut
    dns_records: list[DnsRecord]


class DomainDeleted(BaseModel):
    ok: bool = True
    id: int


class DailyPoint(BaseModel):
    day: str
    hits: int
    visitors: int = Field(description="Unique human visitors that day (distinct visitor hashes)")
    bots: int


class HourPoint(BaseModel):
    hour: str = Field(description="Start of the UTC hour, ISO 8601")
    hits: int
    bots: int


class CountryCount(BaseModel):
    country: str | None = Field(description="ISO 3166-1 alpha-2, null when unknown")
    hits: int


class ReferrerCount(BaseModel):
    host: str | None = Field(description="Referring host without www.; null: direct visits")
    hits: int


class PathCount(BaseModel):
    path: str = Field(description="Request path without query; `(other)` for the rare ones")
    hits: int


class NameCount(BaseModel):
    name: str | None = Field(description="null when the user agent did not tell")
    hits: int


class DeviceCount(BaseModel):
    device: Literal["desktop", "mobile", "tablet", "bot", "(other)"] | None
    hits: int


class Breakdowns(BaseModel):
    by_country: list[CountryCount]
    referrers: list[ReferrerCount] = Field(description="Top referring hosts")
    paths: list[PathCount] = Field(description="Top paths")
    browsers: list[NameCount]
    os: list[NameCount]
    devices: list[DeviceCount]


class DomainStats(Breakdowns):
    domain_id: int
    days: int
    total: int = Field(description="Human hits (all hits with `?bots=include`)")
    bots: int
    daily: list[DailyPoint]
    hourly: list[HourPoint] | None = Field(description="Hour by hour when `days` is 1 or 2")


class TopDomain(BaseModel):
    id: int
    domain: str
    hits: int
    bots: int


class Summary(Breakdowns):
    days: int
    group_id: int | None
    total: int = Field(description="Human hits (all hits with `?bots=include`)")
    bots: int
    daily: list[DailyPoint]
    hourly: list[HourPoint] | None = Field(description="Hour by hour when `days` is 1 or 2")
    top: list[TopDomain] = Field(description="Every domain, most hits first; zero-hit ones too")


class GroupCreate(StrictBody):
    name: str = Field(min_length=1, max_length=100)
    color: str = Field("#4f6d7a", pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")
    target_url: str | None = Field(None, min_length=1, max_length=2048)
    redirect_code: Literal[301, 302, 307, 308] | None = None


class GroupPatch(StrictBody):
    name: str | None = Field(None, min_length=1, max_length=100)
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    target_url: str | None = Field(None, min_length=1, max_length=2048)
    redirect_code: Literal[301, 302, 307, 308] | None = None


class GroupOut(BaseModel):
    id: int
    name: str
    color: str
    target_url: str | None
    redirect_code: int | None
    domain_count: int
    owner_id: int
    created_at: int

    @classmethod
    def of(cls, group: RedirectGroup, domain_count: int) -> GroupOut:
        return cls(
            id=group.id,
            name=group.name,
            color=group.color,
            target_url=group.target_url,
            redirect_code=group.redirect_code,
            domain_count=domain_count,
            owner_id=group.owner_id,
            created_at=epoch_ms(group.created_at),
        )


class GroupEnvelope(BaseModel):
    group: GroupOut


class GroupList(BaseModel):
    groups: list[GroupOut]


class GroupDeleted(BaseModel):
    ok: bool = True
    id: int
    domains_ungrouped: int


class BulkAction(StrictBody):
    """One action on a selection of your domains: `domain_ids`, or every domain of `group_id`."""

    action: Literal["set_target", "sunset", "unsunset", "set_group", "delete"]
    domain_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        None, max_length=1000
    )
    group_id: int | None = Field(None, ge=1, le=2**31 - 1, description="All domains of the group")
    target_url: str | None = Field(None, min_length=1, max_length=2048)
    redirect_code: Literal[301, 302, 307, 308] | None = None
    sunset_config: SunsetConfig | None = None
    to_group_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="`set_group`: the group (null: no group)"
    )


class BulkResult(BaseModel):
    ok: bool = True
    action: str
    affected: int
    domain_ids: list[int]


class ImportRow(BaseModel):
    row: int = Field(description="Line in the file (the header is line 1)")
    domain: str
    action: Literal["create", "update", "unchanged", "error"]
    changes: list[str] = Field(description="Fields an update changes")
    error: str | None


class ImportReport(BaseModel):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    errors: int
    groups_created: list[str]
    rows: list[ImportRow]

    @classmethod
    def of(cls, result: Any) -> ImportReport:
        """From `csvfiles.ImportResult`."""
        return cls(
            dry_run=result.dry_run,
            created=result.count("create"),
            updated=result.count("update"),
            unchanged=result.count("unchanged"),
            errors=result.count("error"),
            groups_created=result.groups_created,
            rows=[
                ImportRow(
                    row=r.row, domain=r.domain, action=r.action, changes=r.changes, error=r.error
                )
                for r in result.rows
            ],
        )


class HitOut(BaseModel):
    id: int
    domain_id: int | None
    ts: int
    ip_hash: str
    country: str | None
    user_agent: str | None
    referer: str | None
    path: str
    host: str
    is_bot: bool

    @classmethod
    def of(cls, hit: RedirectHit) -> HitOut:
        return cls(
            id=hit.id,
            domain_id=hit.domain_id,
            ts=hit.ts,
            ip_hash=hit.ip_hash,
            country=hit.country,
            user_agent=hit.user_agent,
            referer=hit.referer,
            path=hit.path,
            host=hit.host,
            is_bot=hit.is_bot,
        )


class HitList(BaseModel):
    hits: list[HitOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) hits")


class Health(BaseModel):
    ok: bool
    ts: int


class Version(BaseModel):
    current: str
    latest: str
    update_available: bool
    release_url: str | None
    auto_update: bool


class RecordCheck(BaseModel):
    type: Literal["A", "AAAA"]
    name: str
    expected: str
    found: list[str]
    ok: bool


class VerifyResult(BaseModel):
    verified: bool
    domain: DomainOut
    checks: list[RecordCheck]
    message: str | None
