"""Redirect domains, their DNS verification, hits and statistics."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.kit.query import insert_first
from stellwerk.kit.time import utc_now
from stellwerk.models import RedirectDomain, RedirectHit, User
from stellwerk.redirect import dns
from stellwerk.redirect.names import normalize_domain, normalize_target_url, target_host
from stellwerk.redirect.repository import (
    DomainRepository,
    HitRepository,
    RoutingStateRepository,
    StatsRepository,
)

log = logging.getLogger(__name__)

REDIRECT_CODES = (301, 302, 307, 308)
MAX_STATS_DAYS = 366


class DomainTaken(Conflict):
    default_code = "domain_exists"


class DnsNotConfigured(Conflict):
    default_code = "public_ip_not_configured"


@dataclass(frozen=True)
class Verification:
    verified: bool
    domain: RedirectDomain
    checks: list[dns.RecordCheck]
    message: str | None


class DomainService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        owner: User,
        *,
        domain: str,
        target_url: str,
        redirect_code: int = 301,
        preserve_path: bool = True,
        include_www: bool = True,
    ) -> RedirectDomain:
        name = normalize_domain(domain)
        target = normalize_target_url(target_url)
        if redirect_code not in REDIRECT_CODES:
            raise ValidationFailed(
                "redirect_code must be 301, 302, 307 or 308",
                field="redirect_code",
                extra={"field": "redirect_code"},
            )
        served = {name, f"www.{name}"} if include_www else {name}
        if target_host(target) in served:
            raise ValidationFailed(
                "The target URL points back at the domain itself",
                code="redirect_loop",
                field="target_url",
                extra={"field": "target_url"},
            )
        await self._ensure_free(session, name, include_www=include_www)
        record = RedirectDomain(
            owner_id=owner.id,
            domain=name,
            target_url=target,
            redirect_code=redirect_code,
            preserve_path=preserve_path,
            include_www=include_www,
            status="pending",
        )
        if not await insert_first(session, record):  # created by a concurrent request just now
            raise DomainTaken(
                f"{name} is already a redirect domain", field="domain", extra={"field": "domain"}
            )
        await RoutingStateRepository(session).bump()
        await audit.record(
            session,
            actor,
            "redirect_domain.create",
            target_type="redirect_domain",
            target_id=record.id,
            detail={"domain": name, "target_url": target, "redirect_code": redirect_code},
        )
        return record

    async def _ensure_free(self, session: AsyncSession, name: str, *, include_www: bool) -> None:
        """No host may be answered by two domains (`www.x` as a domain and `x` with www)."""
        candidates = [name]
        if include_www:
            candidates.append(f"www.{name}")
        if name.startswith("www."):
            candidates.append(name[4:])
        for other in await DomainRepository(session).get_by_names(candidates):
            clash = (
                other.domain == name
                or (other.domain == f"www.{name}" and include_www)
                or (f"www.{other.domain}" == name and other.include_www)
            )
            if clash:
                raise DomainTaken(
                    f"{other.domain} is already a redirect domain",
                    field="domain",
                    extra={"field": "domain"},
                )

    async def get(
        self, session: AsyncSession, domain_id: int, *, owner_id: int | None
    ) -> RedirectDomain:
        record = await DomainRepository(session).get(domain_id, owner_id=owner_id)
        if record is None:
            raise NotFound(f"No redirect domain with id {domain_id}")
        return record

    async def page(
        self, session: AsyncSession, *, owner_id: int | None, offset: int = 0, limit: int | None
    ) -> tuple[Sequence[RedirectDomain], int]:
        repository = DomainRepository(session)
        rows = await repository.list(owner_id=owner_id, offset=offset, limit=limit)
        return rows, await repository.count(owner_id=owner_id)

    async def delete(self, session: AsyncSession, actor: Actor, record: RedirectDomain) -> None:
        detail = {"domain": record.domain}
        record_id = record.id
        await DomainRepository(session).delete(record)
        await RoutingStateRepository(session).bump()
        await audit.record(
            session,
            actor,
            "redirect_domain.delete",
            target_type="redirect_domain",
            target_id=record_id,
            detail=detail,
        )

    def dns_records(self, settings: Settings, record: RedirectDomain) -> list[dns.ExpectedRecord]:
        return dns.expected_records(settings, record.domain, include_www=record.include_www)

    async def verify(
        self, session: AsyncSession, actor: Actor, record: RedirectDomain, *, settings: Settings
    ) -> Verification:
        """Resolve the expected records; all present → `active`, otherwise unchanged."""
        expected = self.dns_records(settings, record)
        if not expected:
            raise DnsNotConfigured(
                "Set STELLWERK_PUBLIC_IPV4 (and/or STELLWERK_PUBLIC_IPV6) so Stellwerk knows "
                "which addresses the domain must point to"
            )
        checks = await dns.check_records(settings, expected)
        verified = all(check.ok for check in checks)
        problems = [check.error for check in checks if check.error]
        message = None if verified else "; ".join(problems)
        before = record.status
        await self._apply(session, record, ok=verified, message=message)
        await audit.record(
            session,
            actor,
            "redirect_domain.verify",
            target_type="redirect_domain",
            target_id=record.id,
            detail={"verified": verified, "status_before": before, "status": record.status},
        )
        return Verification(verified, record, checks, message)

    async def _apply(
        self,
        session: AsyncSession,
        record: RedirectDomain,
        *,
        ok: bool,
        message: str | None,
    ) -> bool:
        """Move the status after a check; a pending domain only becomes active, never failed."""
        now = utc_now()
        record.dns_checked_at = now
        record.dns_message = message
        before = record.status
        if ok:
            record.status = "active"
            record.verified_at = record.verified_at or now
        elif before == "active":
            record.status = "dns_error"
        await session.flush()
        if record.status != before:
            await RoutingStateRepository(session).bump()
            return True
        return False

    _last_recheck: float | None = None

    async def recheck_if_due(self, database: Database, settings: Settings) -> int:
        """Run `recheck` when `redirect_dns_recheck_seconds` have passed since the last one."""
        now = time.monotonic()
        if self._last_recheck is not None and (
            now - self._last_recheck < settings.redirect_dns_recheck_seconds
        ):
            return 0
        self._last_recheck = now
        return await self.recheck(database, settings)

    async def recheck(self, database: Database, settings: Settings) -> int:
        """The periodic check: active domains whose DNS moved away → `dns_error`, and back."""
        if not (settings.public_ipv4 or settings.public_ipv6):
            return 0
        async with database.session() as session:
            ids = [
                d.id
                for d in await DomainRepository(session).list_by_status(("active", "dns_error"))
            ]
        changed = 0
        for domain_id in ids:
            async with database.session() as session:
                record = await DomainRepository(session).get(domain_id)
                if record is None or record.status not in ("active", "dns_error"):
                    continue
                checks = await dns.check_records(settings, self.dns_records(settings, record))
                ok = all(check.ok for check in checks)
                message = None if ok else "; ".join(c.error for c in checks if c.error)
                before = record.status
                if await self._apply(session, record, ok=ok, message=message):
                    changed += 1
                    await audit.record(
                        session,
                        Actor.system(),
                        "redirect_domain.dns_recheck",
                        target_type="redirect_domain",
                        target_id=record.id,
                        detail={"status_before": before, "status": record.status},
                    )
                    log.info(
                        "redirect domain DNS changed",
                        extra={"domain": record.domain, "status": record.status},
                    )
        return changed

    async def is_active_host(self, session: AsyncSession, host: str) -> bool:
        """For the TLS `ask`: is `host` (or its apex, for `www.`) an active domain?"""
        try:
            name = normalize_domain(host)
        except ValidationFailed:
            return False
        return await DomainRepository(session).is_active_host(name)


@dataclass(frozen=True)
class DailyPoint:
    day: dt.date
    hits: int
    visitors: int


@dataclass(frozen=True)
class Stats:
    days: int
    total: int
    daily: list[DailyPoint]
    by_country: list[tuple[str | None, int]]
    top: list[tuple[int, str, int]]


class StatsService:
    async def for_domains(
        self,
        session: AsyncSession,
        *,
        domain_ids: Sequence[int] | None,
        owner_id: int | None,
        days: int,
        with_top: bool,
    ) -> Stats:
        """The last `days` UTC days, today included, zero days filled."""
        today = utc_now().date()
        since = today - dt.timedelta(days=days - 1)
        repository = StatsRepository(session)
        per_day = await repository.daily(domain_ids, since)
        daily = []
        for offset in range(days):
            day = since + dt.timedelta(days=offset)
            hits, visitors = per_day.get(day, (0, 0))
            daily.append(DailyPoint(day, hits, visitors))
        if with_top:  # the summary: every domain of the owner, read from the owner rollup
            rows = await repository.by_country_of_owner(owner_id, since)
        else:
            rows = await repository.by_country(domain_ids, since)
        # Most hits first; the unknown country after the known ones with as many hits.
        rows.sort(key=lambda row: (-row[1], row[0] == "", row[0]))
        countries: list[tuple[str | None, int]] = [(c or None, n) for c, n in rows]
        top = await repository.per_domain(owner_id, since) if with_top else []
        return Stats(
            days=days,
            total=sum(p.hits for p in daily),
            daily=daily,
            by_country=countries,
            top=top,
        )


class HitService:
    async def recent(
        self,
        session: AsyncSession,
        *,
        owner_id: int | None,
        domain_id: int | None,
        before_id: int | None,
        limit: int,
    ) -> Sequence[RedirectHit]:
        """Newest first. Owners see their domains' hits; admins also the unknown-host ones."""
        if domain_id is not None:
            await domain.get(session, domain_id, owner_id=owner_id)
            domain_ids: list[int] | None = [domain_id]
            include_orphans = False
        elif owner_id is not None:
            records = await DomainRepository(session).list(owner_id=owner_id)
            domain_ids = [r.id for r in records]
            include_orphans = False
        else:
            domain_ids = None
            include_orphans = True
        return await HitRepository(session).list(
            domain_ids=domain_ids,
            include_orphans=include_orphans,
            before_id=before_id,
            limit=limit,
        )


domain = DomainService()
stats = StatsService()
hit = HitService()
