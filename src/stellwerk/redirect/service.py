"""Redirect domains, their DNS verification, hits and statistics."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.kit.query import insert_first
from stellwerk.kit.time import utc_now
from stellwerk.models import RedirectDomain, RedirectGroup, RedirectHit, User
from stellwerk.models.redirect_daily_count import DIMENSIONS
from stellwerk.redirect import dns, sunset
from stellwerk.redirect import events as redirect_events
from stellwerk.redirect.names import normalize_domain, normalize_target_url, target_host
from stellwerk.redirect.repository import (
    DOMAIN,
    EPOCH,
    GROUP,
    OWNER,
    DomainFilter,
    DomainRepository,
    GroupRepository,
    HitRepository,
    RollupRepository,
    RoutingStateRepository,
    StatsRepository,
)

log = logging.getLogger(__name__)

REDIRECT_CODES = (301, 302, 307, 308)
MAX_STATS_DAYS = 366
MAX_HOURLY_DAYS = 2  # windows this short also get an hour-by-hour series
HOURLY_KEEP_DAYS = 7
TOP_N = 20  # referrers and paths: the busiest ones
TOP_ONLY = ("referrer", "path")
EDITABLE = (
    "target_url",
    "redirect_code",
    "preserve_path",
    "include_www",
    "group_id",
    "sunset_config",
)
DEFAULT_COLOR = "#4f6d7a"
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


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
        target_url: str | None = None,
        redirect_code: int | None = None,
        preserve_path: bool = True,
        include_www: bool = True,
        group_id: int | None = None,
        sunset_config: dict[str, Any] | None = None,
        announce: bool = True,
    ) -> RedirectDomain:
        """A new pending domain. `announce=False` (imports) leaves the audit record and the
        routing version to the caller, which does them once for many domains."""
        name = normalize_domain(domain)
        group = await group_service.owned(session, owner.id, group_id) if group_id else None
        if not target_url and group is not None and group.target_url:
            target_url = group.target_url
        if not target_url:
            raise ValidationFailed(
                "Enter the URL visitors go to", field="target_url", extra={"field": "target_url"}
            )
        if redirect_code is None:
            redirect_code = (group.redirect_code if group else None) or 301
        target = self._valid_target(name, target_url, redirect_code, include_www=include_www)
        config = sunset.normalize(sunset_config)
        await self._ensure_free(session, name, include_www=include_www)
        record = RedirectDomain(
            owner_id=owner.id,
            domain=name,
            target_url=target,
            redirect_code=redirect_code,
            preserve_path=preserve_path,
            include_www=include_www,
            group_id=group.id if group else None,
            sunset_config=config,
            status="pending",
        )
        if not await insert_first(session, record):  # created by a concurrent request just now
            raise DomainTaken(
                f"{name} is already a redirect domain", field="domain", extra={"field": "domain"}
            )
        if announce:
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

    def _valid_target(
        self, name: str, target_url: str, redirect_code: int, *, include_www: bool
    ) -> str:
        """The normalised target; a bad code or a target on the domain itself is refused."""
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
        return target

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        record: RedirectDomain,
        changes: dict[str, Any],
        *,
        announce: bool = True,
    ) -> dict[str, tuple[Any, Any]]:
        """Change the editable settings given in `changes` (`target_url`, `redirect_code`,
        `preserve_path`, `include_www`, `group_id`, `sunset_config`), validated like a create.
        The hits and rollups stay. Returns what changed (before, after)."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise ValidationFailed(
                f"{unknown[0]} cannot be changed", field=unknown[0], extra={"field": unknown[0]}
            )
        wanted = {name: changes.get(name, getattr(record, name)) for name in EDITABLE}
        if "target_url" in changes and not changes["target_url"]:
            raise ValidationFailed(
                "Enter the URL visitors go to", field="target_url", extra={"field": "target_url"}
            )
        wanted["target_url"] = self._valid_target(
            record.domain,
            wanted["target_url"],
            wanted["redirect_code"],
            include_www=wanted["include_www"],
        )
        wanted["sunset_config"] = (
            sunset.normalize(changes["sunset_config"])
            if "sunset_config" in changes
            else record.sunset_config
        )
        if wanted["include_www"] and not record.include_www:
            await self._ensure_free(session, record.domain, include_www=True, exclude=record.id)
        if wanted["group_id"] is not None and wanted["group_id"] != record.group_id:
            await group_service.owned(session, record.owner_id, wanted["group_id"])
        diff = {
            name: (getattr(record, name), value)
            for name, value in wanted.items()
            if getattr(record, name) != value
        }
        if not diff:
            return diff
        if "group_id" in diff:
            await DomainRepository(session).set_group([record], wanted["group_id"])
        for name, (_before, after) in diff.items():
            if name != "group_id":
                setattr(record, name, after)
        if "target_url" in diff:  # the last check was of the old target: check again soon
            record.target_status = None
            record.target_check = None
            record.target_checked_at = None
            record.target_failing_since = None
        await session.flush()
        if announce:
            if set(diff) - {"group_id"}:
                await RoutingStateRepository(session).bump()
            await audit.record(
                session,
                actor,
                "redirect_domain.update",
                target_type="redirect_domain",
                target_id=record.id,
                detail={
                    "domain": record.domain,
                    "changes": {k: {"from": b, "to": a} for k, (b, a) in diff.items()},
                },
            )
        return diff

    async def _ensure_free(
        self, session: AsyncSession, name: str, *, include_www: bool, exclude: int | None = None
    ) -> None:
        """No host may be answered by two domains (`www.x` as a domain and `x` with www)."""
        candidates = [name]
        if include_www:
            candidates.append(f"www.{name}")
        if name.startswith("www."):
            candidates.append(name[4:])
        for other in await DomainRepository(session).get_by_names(candidates):
            if other.id == exclude:
                continue
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
        self,
        session: AsyncSession,
        *,
        owner_id: int | None = None,
        where: DomainFilter | None = None,
        offset: int = 0,
        limit: int | None,
    ) -> tuple[Sequence[RedirectDomain], int]:
        """A page of domains; `where` filters (its `owner_id` is the caller's scope)."""
        where = where or DomainFilter(owner_id=owner_id)
        repository = DomainRepository(session)
        rows = await repository.list(where=where, offset=offset, limit=limit)
        return rows, await repository.count(where=where)

    async def select(
        self,
        session: AsyncSession,
        *,
        owner_id: int | None,
        domain_ids: Sequence[int] | None,
        group_id: int | None,
    ) -> list[RedirectDomain]:
        """The domains a bulk action names: ids (each must be the caller's: otherwise 404 with
        `missing_ids`) or every domain of one of the caller's groups."""
        if (domain_ids is None) == (group_id is None):
            raise ValidationFailed(
                "Name the domains: either domain_ids or group_id",
                field="domain_ids",
                extra={"field": "domain_ids"},
            )
        repository = DomainRepository(session)
        if group_id is not None:
            await group_service.get(session, group_id, owner_id=owner_id)
            return list(
                await repository.list(where=DomainFilter(owner_id=owner_id, group_id=group_id))
            )
        wanted = sorted(set(domain_ids or []))
        rows = list(await repository.list(where=DomainFilter(owner_id=owner_id, ids=wanted)))
        missing = sorted(set(wanted) - {r.id for r in rows})
        if missing:
            raise NotFound(
                f"No redirect domain with id {missing[0]}", extra={"missing_ids": missing}
            )
        return rows

    async def bulk(
        self,
        session: AsyncSession,
        actor: Actor,
        domains: Sequence[RedirectDomain],
        *,
        action: str,
        target_url: str | None = None,
        redirect_code: int | None = None,
        sunset_config: dict[str, Any] | None = None,
        to_group_id: int | None = None,
        group: RedirectGroup | None = None,
    ) -> list[int]:
        """One action on many domains, all or nothing (a failure raises before the request
        commits). With `group`, `set_target` also becomes the group's target."""
        ids = [d.id for d in domains]
        if action == "delete":
            for record in domains:
                await DomainRepository(session).delete(record)
        elif action == "set_group":
            owners = {d.owner_id for d in domains}
            if to_group_id is not None:
                target_group = await group_service.get(session, to_group_id, owner_id=None)
                if owners - {target_group.owner_id}:
                    raise ValidationFailed(
                        f"No group with id {to_group_id}",
                        code="group_not_found",
                        field="to_group_id",
                        extra={"field": "to_group_id"},
                    )
            await DomainRepository(session).set_group(list(domains), to_group_id)
        else:
            changes: dict[str, Any]
            if action == "set_target":
                if not target_url:
                    raise ValidationFailed(
                        "set_target needs a target_url",
                        field="target_url",
                        extra={"field": "target_url"},
                    )
                changes = {"target_url": target_url}
                if redirect_code is not None:
                    changes["redirect_code"] = redirect_code
            elif action == "sunset":
                if sunset_config is None:
                    raise ValidationFailed(
                        "sunset needs a sunset_config",
                        field="sunset_config",
                        extra={"field": "sunset_config"},
                    )
                changes = {"sunset_config": sunset_config}
            elif action == "unsunset":
                changes = {"sunset_config": None}
            else:
                raise ValidationFailed(
                    f"Unknown action {action!r}", field="action", extra={"field": "action"}
                )
            for record in domains:
                await self.update(session, actor, record, changes, announce=False)
            if group is not None and action == "set_target":
                group.target_url = normalize_target_url(target_url or "")
                if redirect_code is not None:
                    group.redirect_code = redirect_code
        await session.flush()
        await RoutingStateRepository(session).bump()
        await audit.record(
            session,
            actor,
            "redirect_domain.bulk",
            target_type="redirect_domain",
            detail={
                "action": action,
                "count": len(ids),
                "domain_ids": ids[:1000],
                "group_id": group.id if group else None,
            },
        )
        return ids

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
        await redirect_events.verification(session, record, ok=verified, before=before)
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
                    await redirect_events.verification(session, record, ok=ok, before=before)
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


class GroupService:
    async def get(
        self, session: AsyncSession, group_id: int, *, owner_id: int | None
    ) -> RedirectGroup:
        """One of the caller's groups (anyone's for admins); someone else's is a 404."""
        group = await GroupRepository(session).get(group_id, owner_id=owner_id)
        if group is None:
            raise NotFound(f"No redirect group with id {group_id}")
        return group

    async def owned(self, session: AsyncSession, owner_id: int, group_id: int) -> RedirectGroup:
        """A group a domain of `owner_id` may join (the owner's own), else a field error."""
        group = await GroupRepository(session).get(group_id, owner_id=owner_id)
        if group is None:
            raise ValidationFailed(
                f"No group with id {group_id}",
                code="group_not_found",
                field="group_id",
                extra={"field": "group_id"},
            )
        return group

    async def list(
        self, session: AsyncSession, *, owner_id: int | None
    ) -> list[tuple[RedirectGroup, int]]:
        return await GroupRepository(session).list(owner_id=owner_id)

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        owner: User,
        *,
        name: str,
        color: str = DEFAULT_COLOR,
        target_url: str | None = None,
        redirect_code: int | None = None,
    ) -> RedirectGroup:
        group = RedirectGroup(owner_id=owner.id, name="", color=DEFAULT_COLOR)
        await self._set(session, group, name=name, color=color)
        group.target_url, group.redirect_code = self._target(target_url, redirect_code)
        await GroupRepository(session).add(group)
        await audit.record(
            session,
            actor,
            "redirect_group.create",
            target_type="redirect_group",
            target_id=group.id,
            detail={"name": group.name},
        )
        return group

    def _target(self, target_url: str | None, code: int | None) -> tuple[str | None, int | None]:
        if code is not None and code not in REDIRECT_CODES:
            raise ValidationFailed(
                "redirect_code must be 301, 302, 307 or 308",
                field="redirect_code",
                extra={"field": "redirect_code"},
            )
        return (normalize_target_url(target_url) if target_url else None), code

    async def _set(
        self, session: AsyncSession, group: RedirectGroup, *, name: str | None, color: str | None
    ) -> None:
        if name is not None:
            clean = " ".join(name.replace("\x00", "").split())
            if not clean or len(clean) > 100:
                raise ValidationFailed(
                    "A group name has 1 to 100 characters", field="name", extra={"field": "name"}
                )
            other = await GroupRepository(session).by_name(group.owner_id, clean)
            if other is not None and other.id != group.id:
                raise Conflict(
                    f"You already have a group named {other.name}",
                    code="group_exists",
                    field="name",
                    extra={"field": "name"},
                )
            group.name = clean
        if color is not None:
            if not HEX_COLOR.fullmatch(color):
                raise ValidationFailed(
                    "A colour looks like #1a2b3c", field="color", extra={"field": "color"}
                )
            group.color = color.lower()

    async def update(
        self, session: AsyncSession, actor: Actor, group: RedirectGroup, changes: dict[str, Any]
    ) -> None:
        await self._set(session, group, name=changes.get("name"), color=changes.get("color"))
        if "target_url" in changes or "redirect_code" in changes:
            group.target_url, group.redirect_code = self._target(
                changes.get("target_url", group.target_url),
                changes.get("redirect_code", group.redirect_code),
            )
        await session.flush()
        await audit.record(
            session,
            actor,
            "redirect_group.update",
            target_type="redirect_group",
            target_id=group.id,
            detail={"name": group.name, "changed": sorted(changes)},
        )

    async def delete(self, session: AsyncSession, actor: Actor, group: RedirectGroup) -> int:
        """The group goes; its domains stay, without a group. How many domains it held."""
        held = await DomainRepository(session).count(
            where=DomainFilter(owner_id=group.owner_id, group_id=group.id)
        )
        detail = {"name": group.name, "domains": held}
        group_id = group.id
        await GroupRepository(session).delete(group)
        await audit.record(
            session,
            actor,
            "redirect_group.delete",
            target_type="redirect_group",
            target_id=group_id,
            detail=detail,
        )
        return held


@dataclass(frozen=True)
class DailyPoint:
    day: dt.date
    hits: int
    visitors: int
    bots: int


@dataclass(frozen=True)
class HourPoint:
    hour: dt.datetime
    hits: int
    bots: int


@dataclass(frozen=True)
class TopRow:
    id: int
    domain: str
    hits: int
    bots: int


@dataclass(frozen=True)
class Stats:
    days: int
    total: int
    bots: int
    daily: list[DailyPoint]
    hourly: list[HourPoint] | None
    # (value, hits) per dimension of `DIMENSIONS`, most hits first; None for "unknown"
    breakdowns: dict[str, list[tuple[str | None, int]]]
    top: list[TopRow] = field(default_factory=list)

    @property
    def by_country(self) -> list[tuple[str | None, int]]:
        return self.breakdowns["country"]


class StatsService:
    """Stats read only the rollups; `include_bots` counts bots in as well (humans only by
    default, with the bots beside them)."""

    async def for_domain(
        self, session: AsyncSession, domain_id: int, *, days: int, include_bots: bool = False
    ) -> Stats:
        return await self._stats(
            session,
            domain_ids=[domain_id],
            scope=(DOMAIN, [domain_id]),
            top_of=None,
            days=days,
            include_bots=include_bots,
        )

    async def summary(
        self,
        session: AsyncSession,
        *,
        owner_id: int | None,
        group_id: int | None = None,
        days: int,
        include_bots: bool = False,
    ) -> Stats:
        """All domains of `owner_id` (everyone's for None), or of one group, with `top`."""
        where = DomainFilter(owner_id=owner_id, group_id=group_id)
        domain_ids: list[int] | None = None
        if group_id is not None or owner_id is not None:
            domain_ids = await DomainRepository(session).ids(where)
        scope: tuple[str, list[int]]
        if group_id is not None:
            scope = (GROUP, [group_id])
        elif owner_id is not None:
            scope = (OWNER, [owner_id])
        else:
            scope = (OWNER, await StatsRepository(session).owner_ids())
        return await self._stats(
            session,
            domain_ids=domain_ids,
            scope=scope,
            top_of=where,
            days=days,
            include_bots=include_bots,
        )

    async def _stats(
        self,
        session: AsyncSession,
        *,
        domain_ids: list[int] | None,
        scope: tuple[str, list[int]],
        top_of: DomainFilter | None,
        days: int,
        include_bots: bool,
    ) -> Stats:
        """The last `days` UTC days, today included, zero days (and hours) filled. A domain's
        series comes from its daily totals; a summary's from its scope's `total` rows."""
        today = utc_now().date()
        since = today - dt.timedelta(days=days - 1)
        repository = StatsRepository(session)

        def seen(hits: int, bots: int) -> int:
            return hits if include_bots else hits - bots

        if top_of is None:
            per_day = await repository.daily(domain_ids, since)
        else:
            per_day = await repository.series(scope[0], scope[1], since)
        daily = []
        for offset in range(days):
            day = since + dt.timedelta(days=offset)
            hits, bots, visitors = per_day.get(day, (0, 0, 0))
            daily.append(DailyPoint(day, seen(hits, bots), visitors, bots))
        hourly = None
        if days <= MAX_HOURLY_DAYS:
            first = (since - EPOCH).days * 24
            per_hour = await repository.hourly(domain_ids, first)
            hourly = []
            for hour in range(first, first + days * 24):
                hits, bots = per_hour.get(hour, (0, 0))
                moment = dt.datetime.fromtimestamp(hour * 3600, tz=dt.UTC)
                hourly.append(HourPoint(moment, seen(hits, bots), bots))
        breakdowns: dict[str, list[tuple[str | None, int]]] = {d: [] for d in DIMENSIONS}
        rows = await repository.counts(scope[0], scope[1], since, DIMENSIONS, today=today)
        for dimension, value, hits, bots in rows:
            count = seen(hits, bots)
            if count > 0:
                breakdowns[dimension].append((value or None, count))
        for dimension, ranked in breakdowns.items():
            # Most hits first; the unknown value after the known ones with as many hits.
            ranked.sort(key=lambda row: (-row[1], row[0] is None, row[0] or ""))
            if dimension in TOP_ONLY:
                del ranked[TOP_N:]
        top: list[TopRow] = []
        if top_of is not None:
            names = await repository.names(top_of)
            totals = await repository.domain_totals([i for i, _ in names], since, today=today)
            for domain_id, name in names:
                hits, bots = totals.get(domain_id, (0, 0))
                top.append(TopRow(domain_id, name, seen(hits, bots), bots))
            top.sort(key=lambda row: (-row.hits, row.id))
        return Stats(
            days=days,
            total=sum(p.hits for p in daily),
            bots=sum(p.bots for p in daily),
            daily=daily,
            hourly=hourly,
            breakdowns=breakdowns,
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
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Sequence[RedirectHit]:
        """Newest first. Owners see their domains' hits; admins also the unknown-host ones."""
        domain_ids, include_orphans = await self.visible(
            session, owner_id=owner_id, domain_id=domain_id
        )
        return await HitRepository(session).list(
            domain_ids=domain_ids,
            include_orphans=include_orphans,
            before_id=before_id,
            limit=limit,
            since_ms=since_ms,
            until_ms=until_ms,
        )

    async def visible(
        self, session: AsyncSession, *, owner_id: int | None, domain_id: int | None
    ) -> tuple[list[int] | None, bool]:
        """Whose hits the caller may read: (domain ids or None for all, orphans too?)."""
        if domain_id is not None:
            await domain.get(session, domain_id, owner_id=owner_id)
            return [domain_id], False
        if owner_id is not None:
            return await DomainRepository(session).ids(DomainFilter(owner_id=owner_id)), False
        return None, True

    async def export(
        self,
        database: Database,
        *,
        domain_ids: list[int] | None,
        include_orphans: bool,
        since_ms: int | None,
        until_ms: int | None,
        chunk: int = 2000,
    ) -> AsyncIterator[list[RedirectHit]]:
        """Hits newest first, a chunk at a time, each chunk in a short session of its own (a
        streamed answer outlives the request's session)."""
        before_id: int | None = None
        while True:
            async with database.session() as session:
                rows = await HitRepository(session).list(
                    domain_ids=domain_ids,
                    include_orphans=include_orphans,
                    before_id=before_id,
                    limit=chunk,
                    since_ms=since_ms,
                    until_ms=until_ms,
                )
            if rows:
                yield list(rows)
            if len(rows) < chunk:
                return
            before_id = rows[-1].id


class RollupService:
    async def prune(self, session: AsyncSession) -> int:
        """Hourly totals older than `HOURLY_KEEP_DAYS` (the stats show two days at most)."""
        now_hour = int(utc_now().timestamp()) // 3600
        return await RollupRepository(session).prune_hourly(now_hour - HOURLY_KEEP_DAYS * 24)


domain = DomainService()
group_service = GroupService()
rollups = RollupService()
stats = StatsService()
hit = HitService()
