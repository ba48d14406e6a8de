"""Request and response bodies of `/api/v1` (nexredirect-api.md) and the verify endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from stellwerk.kit.body import LenientBody
from stellwerk.kit.time import epoch_ms
from stellwerk.models import RedirectDomain, RedirectHit


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


class DomainCreate(LenientBody):
    domain: str = Field(min_length=1, max_length=300, examples=["alt-firma.de"])
    target_url: str = Field(min_length=1, max_length=2048, examples=["https://www.firma.de"])
    redirect_code: Literal[301, 302, 307, 308] = 301
    preserve_path: Flag = True
    include_www: Flag = True


class DomainOut(BaseModel):
    id: int
    domain: str
    status: Literal["pending", "active", "dns_error"]
    target_url: str
    redirect_code: int
    preserve_path: Literal[0, 1]
    include_www: Literal[0, 1]
    total_hits: int
    last_hit: int | None = Field(description="Epoch milliseconds of the newest hit")
    created_at: int = Field(description="Epoch milliseconds")
    verified_at: int | None = Field(description="Epoch milliseconds of the first verification")
    dns_checked_at: int | None
    dns_message: str | None = Field(description="Why the last DNS check failed, if it did")

    @classmethod
    def of(cls, domain: RedirectDomain) -> DomainOut:
        return cls(
            id=domain.id,
            domain=domain.domain,
            status=domain.status,
            target_url=domain.target_url,
            redirect_code=domain.redirect_code,
            preserve_path=1 if domain.preserve_path else 0,
            include_www=1 if domain.include_www else 0,
            total_hits=domain.total_hits,
            last_hit=domain.last_hit,
            created_at=epoch_ms(domain.created_at),
            verified_at=epoch_ms(domain.verified_at) if domain.verified_at else None,
            dns_checked_at=epoch_ms(domain.dns_checked_at) if domain.dns_checked_at else None,
            dns_message=domain.dns_message,
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
    visitors: int = Field(description="Unique visitors that day (distinct daily visitor hashes)")


class CountryCount(BaseModel):
    country: str | None = Field(description="ISO 3166-1 alpha-2, null when unknown")
    hits: int


class DomainStats(BaseModel):
    domain_id: int
    days: int
    total: int
    daily: list[DailyPoint]
    by_country: list[CountryCount]


class TopDomain(BaseModel):
    id: int
    domain: str
    hits: int


class Summary(BaseModel):
    days: int
    total: int
    daily: list[DailyPoint]
    top: list[TopDomain] = Field(description="Every domain, most hits first; zero-hit ones too")
    by_country: list[CountryCount]


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
