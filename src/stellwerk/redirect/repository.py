"""All SQL for redirect domains, hits, rollups, salts and the routing version."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Insert, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.kit.query import contains, paginate
from stellwerk.models import (
    RedirectDailyCountry,
    RedirectDailyTotal,
    RedirectDailyVisitor,
    RedirectDomain,
    RedirectHit,
    RedirectOwnerDailyCountry,
    RedirectRoutingState,
    RedirectSalt,
)

ROUTING_STATE_ID = 1
# Statuses the data plane answers for (a domain whose DNS moved away may still reach us).
SERVED_STATUSES = ("pending", "active", "dns_error")


class HitRow(NamedTuple):
    """A hit as the data plane records it, ready to be written (no IP address in here).

    A tuple, because the request path creates one per request."""

    domain_id: int | None
    host: str
    ts: int
    ip_hash: str
    country: str | None
    user_agent: str | None
    referer: str | None
    path: str
    is_bot: bool

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


HIT_COLUMNS = HitRow._fields


def _insert(session: AsyncSession, table: Any) -> Insert:
    """An INSERT that knows ON CONFLICT on this session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


EPOCH = dt.date(1970, 1, 1)


def day_of(ts_ms: int) -> dt.date:
    return EPOCH + dt.timedelta(days=ts_ms // 86_400_000)


class DomainRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, domain_id: int, *, owner_id: int | None = None) -> RedirectDomain | None:
        statement = select(RedirectDomain).where(RedirectDomain.id == domain_id)
        if owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == owner_id)
        return await self.session.scalar(statement)

    async def get_by_names(self, names: Sequence[str]) -> Sequence[RedirectDomain]:
        rows = await self.session.scalars(
            select(RedirectDomain).where(RedirectDomain.domain.in_(list(names)))
        )
        return rows.all()

    async def list(
        self, *, owner_id: int | None, offset: int = 0, limit: int | None = None
    ) -> Sequence[RedirectDomain]:
        statement = select(RedirectDomain).order_by(RedirectDomain.id)
        if owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == owner_id)
        statement = statement.offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        return (await self.session.scalars(statement)).all()

    async def count(self, *, owner_id: int | None) -> int:
        statement = select(func.count()).select_from(RedirectDomain)
        if owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == owner_id)
        return int(await self.session.scalar(statement) or 0)

    async def search(
        self, query: str, *, owner_id: int | None, limit: int
    ) -> tuple[Sequence[RedirectDomain], int]:
        """The redirect domains of `owner_id` (everyone's for None) whose name or target
        contains `query`."""
        pattern = contains(query)
        statement = select(RedirectDomain).where(
            RedirectDomain.domain.ilike(pattern, escape="\\")
            | RedirectDomain.target_url.ilike(pattern, escape="\\")
        )
        if owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == owner_id)
        return await paginate(
            self.session, statement.order_by(RedirectDomain.domain), offset=0, limit=limit
        )

    async def list_by_status(self, statuses: Sequence[str]) -> Sequence[RedirectDomain]:
        rows = await self.session.scalars(
            select(RedirectDomain)
            .where(RedirectDomain.status.in_(list(statuses)))
            .order_by(RedirectDomain.id)
        )
        return rows.all()

    async def routes(self) -> Sequence[tuple[int, str, str, int, bool, bool, str]]:
        """What the data plane needs of every served domain, in one cheap query."""
        rows = await self.session.execute(
            select(
                RedirectDomain.id,
                RedirectDomain.domain,
                RedirectDomain.target_url,
                RedirectDomain.redirect_code,
                RedirectDomain.preserve_path,
                RedirectDomain.include_www,
                RedirectDomain.status,
            ).where(RedirectDomain.status.in_(SERVED_STATUSES))
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]

    async def is_active_host(self, host: str) -> bool:
        apex = host[4:] if host.startswith("www.") else None
        statement = select(RedirectDomain.id).where(
            RedirectDomain.status == "active",
            (RedirectDomain.domain == host)
            | ((RedirectDomain.domain == apex) & RedirectDomain.include_www.is_(True)),
        )
        return (await self.session.scalar(statement.limit(1))) is not None

    async def add(self, domain: RedirectDomain) -> RedirectDomain:
        self.session.add(domain)
        await self.session.flush()
        return domain

    async def delete(self, domain: RedirectDomain) -> None:
        domain_id = domain.id
        counts = await self.session.execute(
            select(
                RedirectDailyCountry.day, RedirectDailyCountry.country, RedirectDailyCountry.hits
            ).where(RedirectDailyCountry.domain_id == domain_id)
        )
        for day, country, hits in counts.all():
            await self.session.execute(
                update(RedirectOwnerDailyCountry)
                .where(
                    RedirectOwnerDailyCountry.owner_id == domain.owner_id,
                    RedirectOwnerDailyCountry.day == day,
                    RedirectOwnerDailyCountry.country == country,
                )
                .values(hits=RedirectOwnerDailyCountry.hits - hits)
            )
        await self.session.delete(domain)
        for model in (RedirectHit, RedirectDailyTotal, RedirectDailyCountry, RedirectDailyVisitor):
            await self.session.execute(delete(model).where(model.domain_id == domain_id))
        await self.session.flush()


class RoutingStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def version(self) -> int:
        value = await self.session.scalar(
            select(RedirectRoutingState.version).where(RedirectRoutingState.id == ROUTING_STATE_ID)
        )
        return int(value or 0)

    async def bump(self) -> None:
        statement = _insert(self.session, RedirectRoutingState).values(
            id=ROUTING_STATE_ID, version=1
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["id"],
            set_={"version": RedirectRoutingState.version + 1},
        )
        await self.session.execute(statement)


class SaltRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, day: dt.date) -> bytes | None:
        return await self.session.scalar(
            select(RedirectSalt.encrypted_salt).where(RedirectSalt.day == day)
        )

    async def add_if_missing(self, day: dt.date, encrypted_salt: bytes) -> None:
        statement = _insert(self.session, RedirectSalt).values(
            day=day, encrypted_salt=encrypted_salt
        )
        await self.session.execute(
            statement.on_conflict_do_nothing(index_elements=["day"])  # type: ignore[attr-defined]
        )

    async def delete_before(self, day: dt.date) -> int:
        result = await self.session.execute(delete(RedirectSalt).where(RedirectSalt.day < day))
        await self.session.execute(
            delete(RedirectDailyVisitor).where(RedirectDailyVisitor.day < day)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class HitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owners_of(self, ids: set[int]) -> dict[int, int]:
        """Domain id → owner id, for the domains that still exist."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(RedirectDomain.id, RedirectDomain.owner_id).where(
                RedirectDomain.id.in_(sorted(ids))
            )
        )
        return {int(domain_id): int(owner_id) for domain_id, owner_id in rows.all()}

    async def write_batch(self, hits: Sequence[HitRow]) -> None:
        """Insert the hits and fold them into the rollups and the domain counters."""
        if not hits:
            return
        known = await self.owners_of({h.domain_id for h in hits if h.domain_id})
        rows = [
            hit._replace(domain_id=None)  # deleted meanwhile: keep it as an orphan hit
            if hit.domain_id is not None and hit.domain_id not in known
            else hit
            for hit in hits
        ]
        await self._insert_hits(rows)

        per_day: Counter[tuple[int, dt.date]] = Counter()
        per_country: Counter[tuple[int, dt.date, str]] = Counter()
        per_owner_country: Counter[tuple[int, dt.date, str]] = Counter()
        last_hit: dict[int, int] = {}
        visitors: set[tuple[int, dt.date, str]] = set()
        days: dict[int, dt.date] = {}
        for row in rows:
            domain_id = row.domain_id
            if domain_id is None:
                continue
            epoch_day = row.ts // 86_400_000
            day = days.get(epoch_day) or days.setdefault(epoch_day, day_of(row.ts))
            per_day[(domain_id, day)] += 1
            per_country[(domain_id, day, row.country or "")] += 1
            per_owner_country[(known[domain_id], day, row.country or "")] += 1
            last_hit[domain_id] = max(last_hit.get(domain_id, 0), row.ts)
            visitors.add((domain_id, day, row.ip_hash))
        if not per_day:
            return

        new_visitors: Counter[tuple[int, dt.date]] = Counter()
        visitor_rows = [{"domain_id": d, "day": day, "ip_hash": h} for d, day, h in visitors]
        for chunk in _chunks(visitor_rows, 500):
            statement = (
                _insert(self.session, RedirectDailyVisitor)
                .values(chunk)
                .on_conflict_do_nothing()  # type: ignore[attr-defined]
                .returning(RedirectDailyVisitor.domain_id, RedirectDailyVisitor.day)
            )
            for domain_id, day in (await self.session.execute(statement)).all():
                new_visitors[(domain_id, day)] += 1

        # Sorted, so concurrent writers take row locks in the same order (no deadlocks).
        for (domain_id, day), count in sorted(per_day.items()):
            statement = _insert(self.session, RedirectDailyTotal).values(
                domain_id=domain_id,
                day=day,
                hits=count,
                visitors=new_visitors[(domain_id, day)],
            )
            await self.session.execute(
                statement.on_conflict_do_update(  # type: ignore[attr-defined]
                    index_elements=["domain_id", "day"],
                    set_={
                        "hits": RedirectDailyTotal.hits + count,
                        "visitors": RedirectDailyTotal.visitors + new_visitors[(domain_id, day)],
                    },
                )
            )
        for (domain_id, day, country), count in sorted(per_country.items()):
            statement = _insert(self.session, RedirectDailyCountry).values(
                domain_id=domain_id, day=day, country=country, hits=count
            )
            await self.session.execute(
                statement.on_conflict_do_update(  # type: ignore[attr-defined]
                    index_elements=["domain_id", "day", "country"],
                    set_={"hits": RedirectDailyCountry.hits + count},
                )
            )
        for (owner_id, day, country), count in sorted(per_owner_country.items()):
            statement = _insert(self.session, RedirectOwnerDailyCountry).values(
                owner_id=owner_id, day=day, country=country, hits=count
            )
            await self.session.execute(
                statement.on_conflict_do_update(  # type: ignore[attr-defined]
                    index_elements=["owner_id", "day", "country"],
                    set_={"hits": RedirectOwnerDailyCountry.hits + count},
                )
            )
        totals: Counter[int] = Counter()
        for (domain_id, _day), count in per_day.items():
            totals[domain_id] += count
        for domain_id in sorted(totals):
            newest = last_hit[domain_id]
            await self.session.execute(
                update(RedirectDomain)
                .where(RedirectDomain.id == domain_id)
                .values(
                    total_hits=RedirectDomain.total_hits + totals[domain_id],
                    last_hit=case(
                        (RedirectDomain.last_hit.is_(None), newest),
                        (RedirectDomain.last_hit < newest, newest),
                        else_=RedirectDomain.last_hit,
                    ),
                    updated_at=RedirectDomain.updated_at,
                )
                .execution_options(synchronize_session=False)
            )

    async def _insert_hits(self, rows: Sequence[HitRow]) -> None:
        """The driver's own executemany: hits are the one table written at request rate, and
        SQLAlchemy's per-row parameter processing would cost more than the insert itself."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            placeholders = ", ".join(f"${i}" for i in range(1, len(HIT_COLUMNS) + 1))
        else:
            placeholders = ", ".join("?" for _ in HIT_COLUMNS)
        statement = f"INSERT INTO redirect_hits ({', '.join(HIT_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608 - constant names
        await connection.exec_driver_sql(statement, [tuple(row) for row in rows])

    async def list(
        self,
        *,
        domain_ids: Sequence[int] | None,
        include_orphans: bool,
        before_id: int | None,
        limit: int,
    ) -> Sequence[RedirectHit]:
        statement = select(RedirectHit).order_by(RedirectHit.id.desc()).limit(limit)
        if domain_ids is not None:
            condition = RedirectHit.domain_id.in_(list(domain_ids))
            if include_orphans:
                statement = statement.where(condition | RedirectHit.domain_id.is_(None))
            else:
                statement = statement.where(condition)
        elif not include_orphans:
            statement = statement.where(RedirectHit.domain_id.is_not(None))
        if before_id is not None:
            statement = statement.where(RedirectHit.id < before_id)
        return (await self.session.scalars(statement)).all()

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(RedirectHit)) or 0)


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def daily(
        self, domain_ids: Sequence[int] | None, since: dt.date
    ) -> dict[dt.date, tuple[int, int]]:
        """Hits and visitors per day since `since` (summed over `domain_ids`, or all)."""
        statement = (
            select(
                RedirectDailyTotal.day,
                func.sum(RedirectDailyTotal.hits),
                func.sum(RedirectDailyTotal.visitors),
            )
            .where(RedirectDailyTotal.day >= since)
            .group_by(RedirectDailyTotal.day)
        )
        if domain_ids is not None:
            statement = statement.where(RedirectDailyTotal.domain_id.in_(list(domain_ids)))
        rows = await self.session.execute(statement)
        return {day: (int(hits or 0), int(visitors or 0)) for day, hits, visitors in rows.all()}

    async def by_country(
        self, domain_ids: Sequence[int] | None, since: dt.date
    ) -> list[tuple[str, int]]:
        total = func.sum(RedirectDailyCountry.hits)
        statement = (
            select(RedirectDailyCountry.country, total)
            .where(RedirectDailyCountry.day >= since)
            .group_by(RedirectDailyCountry.country)
            .order_by(total.desc(), RedirectDailyCountry.country)
        )
        if domain_ids is not None:
            statement = statement.where(RedirectDailyCountry.domain_id.in_(list(domain_ids)))
        rows = await self.session.execute(statement)
        return [(country, int(hits or 0)) for country, hits in rows.all()]

    async def by_country_of_owner(
        self, owner_id: int | None, since: dt.date
    ) -> list[tuple[str, int]]:
        """The summary's countries from the owner rollup (all owners for `None`)."""
        total = func.sum(RedirectOwnerDailyCountry.hits)
        statement = (
            select(RedirectOwnerDailyCountry.country, total)
            .where(RedirectOwnerDailyCountry.day >= since)
            .group_by(RedirectOwnerDailyCountry.country)
            .having(total > 0)
        )
        if owner_id is not None:
            statement = statement.where(RedirectOwnerDailyCountry.owner_id == owner_id)
        rows = await self.session.execute(statement)
        return [(country, int(hits or 0)) for country, hits in rows.all()]

    async def per_domain(self, owner_id: int | None, since: dt.date) -> list[tuple[int, str, int]]:
        """Every domain (zero-hit ones too) with its hits since `since`, most hits first."""
        hits = (
            select(
                RedirectDailyTotal.domain_id.label("domain_id"),
                func.sum(RedirectDailyTotal.hits).label("hits"),
            )
            .where(RedirectDailyTotal.day >= since)
            .group_by(RedirectDailyTotal.domain_id)
            .subquery()
        )
        count = func.coalesce(hits.c.hits, 0)
        statement = (
            select(RedirectDomain.id, RedirectDomain.domain, count)
            .outerjoin(hits, hits.c.domain_id == RedirectDomain.id)
            .order_by(count.desc(), RedirectDomain.id)
        )
        if owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == owner_id)
        rows = await self.session.execute(statement)
        return [(domain_id, name, int(n or 0)) for domain_id, name, n in rows.all()]


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
