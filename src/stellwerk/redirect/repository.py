"""All SQL for redirect domains, groups, hits, rollups, salts and the routing version.

Owner scoping: every query that reads or changes domains or groups on behalf of a caller takes
`owner_id` (None only for admins, who see everyone's) and filters by it here.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from stellwerk.database import after_commit
from stellwerk.kit.query import contains, paginate
from stellwerk.kit.time import utc_now
from stellwerk.models import (
    RedirectDailyCount,
    RedirectDailyTotal,
    RedirectDailyVisitor,
    RedirectDomain,
    RedirectGroup,
    RedirectHit,
    RedirectHourlyTotal,
    RedirectMonthlyCount,
    RedirectRoutingState,
    RedirectSalt,
)
from stellwerk.models.redirect_daily_count import TOTAL
from stellwerk.redirect import analytics
from stellwerk.redirect.barrier import routing_changed

ROUTING_STATE_ID = 1
# Statuses the data plane answers for (a domain whose DNS moved away may still reach us).
SERVED_STATUSES = ("pending", "active", "dns_error")
DOMAIN, OWNER, GROUP = "domain", "owner", "group"
# Dimensions whose values are never folded into `(other)`: a bounded set.
UNCAPPED = ("country", TOTAL)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


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
    return EPOCH + dt.timedelta(days=ts_ms // DAY_MS)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class DomainFilter:
    """Which domains a list, export or bulk action covers. `owner_id` None: everyone's."""

    owner_id: int | None = None
    group_id: int | None = None
    ungrouped: bool = False
    status: str | None = None
    search: str | None = None
    target_status: str | None = None
    sunset: bool | None = None
    ids: Sequence[int] | None = None

    def apply(self, statement: _S) -> _S:
        if self.owner_id is not None:
            statement = statement.where(RedirectDomain.owner_id == self.owner_id)
        if self.group_id is not None:
            statement = statement.where(RedirectDomain.group_id == self.group_id)
        if self.ungrouped:
            statement = statement.where(RedirectDomain.group_id.is_(None))
        if self.status is not None:
            statement = statement.where(RedirectDomain.status == self.status)
        if self.search:
            pattern = _like(self.search.lower())
            statement = statement.where(
                or_(
                    RedirectDomain.domain.like(pattern, escape="\\"),
                    func.lower(RedirectDomain.target_url).like(pattern, escape="\\"),
                )
            )
        if self.target_status is not None:
            statement = statement.where(RedirectDomain.target_status == self.target_status)
        if self.sunset is True:
            statement = statement.where(RedirectDomain.sunset_config.is_not(None))
        elif self.sunset is False:
            statement = statement.where(RedirectDomain.sunset_config.is_(None))
        if self.ids is not None:
            statement = statement.where(RedirectDomain.id.in_(list(self.ids)))
        return statement


class RouteRow(NamedTuple):
    """What the data plane needs of a served domain."""

    id: int
    domain: str
    target_url: str
    redirect_code: int
    preserve_path: bool
    include_www: bool
    status: str
    sunset_config: dict[str, Any] | None


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
        self,
        *,
        owner_id: int | None = None,
        where: DomainFilter | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Sequence[RedirectDomain]:
        where = where or DomainFilter(owner_id=owner_id)
        statement = where.apply(select(RedirectDomain).order_by(RedirectDomain.id))
        statement = statement.offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        return (await self.session.scalars(statement)).all()

    async def stream(
        self, where: DomainFilter, *, chunk: int = 500
    ) -> AsyncIterator[RedirectDomain]:
        """Every matching domain, oldest first, a chunk at a time (for exports)."""
        last = 0
        while True:
            statement = where.apply(
                select(RedirectDomain)
                .where(RedirectDomain.id > last)
                .order_by(RedirectDomain.id)
                .limit(chunk)
            )
            rows = (await self.session.scalars(statement)).all()
            for row in rows:
                yield row
            if len(rows) < chunk:
                return
            last = rows[-1].id

    async def count(self, *, owner_id: int | None = None, where: DomainFilter | None = None) -> int:
        where = where or DomainFilter(owner_id=owner_id)
        statement = where.apply(select(func.count()).select_from(RedirectDomain))
        return int(await self.session.scalar(statement) or 0)

    async def ids(self, where: DomainFilter) -> builtins.list[int]:
        statement = where.apply(select(RedirectDomain.id).order_by(RedirectDomain.id))
        return list((await self.session.scalars(statement)).all())

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

    async def due_for_check(self, checked_before: dt.datetime, *, limit: int) -> builtins.list[int]:
        """Domains whose target was never checked or not since `checked_before`, oldest first."""
        statement = (
            select(RedirectDomain.id)
            .where(
                or_(
                    RedirectDomain.target_checked_at.is_(None),
                    RedirectDomain.target_checked_at < checked_before,
                )
            )
            .order_by(
                RedirectDomain.target_checked_at.is_not(None), RedirectDomain.target_checked_at
            )
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def routes(self) -> builtins.list[RouteRow]:
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
                RedirectDomain.sunset_config,
            ).where(RedirectDomain.status.in_(SERVED_STATUSES))
        )
        return [RouteRow(*row) for row in rows.all()]

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
        """The domain with its hits and rollups; the owner's and group's rollups lose its part."""
        domain_id = domain.id
        rollups = RollupRepository(self.session)
        await rollups.subtract(OWNER, domain.owner_id, [domain_id])
        if domain.group_id is not None:
            await rollups.subtract(GROUP, domain.group_id, [domain_id])
        await self.session.delete(domain)
        for model in (RedirectHit, RedirectDailyTotal, RedirectDailyVisitor, RedirectHourlyTotal):
            await self.session.execute(delete(model).where(model.domain_id == domain_id))
        for rollup in (RedirectDailyCount, RedirectMonthlyCount):
            await self.session.execute(
                delete(rollup).where(rollup.scope == DOMAIN, rollup.scope_id == domain_id)
            )
        await self.session.flush()

    async def set_group(self, domains: Sequence[RedirectDomain], group_id: int | None) -> None:
        """Move domains into a group (or none); the groups' rollups follow their history."""
        rollups = RollupRepository(self.session)
        leaving: dict[int, list[int]] = defaultdict(list)
        for record in domains:
            if record.group_id != group_id and record.group_id is not None:
                leaving[record.group_id].append(record.id)
        for old_group, ids in sorted(leaving.items()):
            await rollups.subtract(GROUP, old_group, ids)
        joining = [d.id for d in domains if d.group_id != group_id]
        if group_id is not None and joining:
            await rollups.add_domains(GROUP, group_id, joining)
        for record in domains:
            record.group_id = group_id
        await self.session.flush()


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, group_id: int, *, owner_id: int | None = None) -> RedirectGroup | None:
        statement = select(RedirectGroup).where(RedirectGroup.id == group_id)
        if owner_id is not None:
            statement = statement.where(RedirectGroup.owner_id == owner_id)
        return await self.session.scalar(statement)

    async def by_name(self, owner_id: int, name: str) -> RedirectGroup | None:
        return await self.session.scalar(
            select(RedirectGroup).where(
                RedirectGroup.owner_id == owner_id, func.lower(RedirectGroup.name) == name.lower()
            )
        )

    async def of_ids(self, ids: Iterable[int]) -> dict[int, RedirectGroup]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.scalars(select(RedirectGroup).where(RedirectGroup.id.in_(wanted)))
        return {group.id: group for group in rows.all()}

    async def list(self, *, owner_id: int | None) -> list[tuple[RedirectGroup, int]]:
        """Groups (everyone's for None) by name, with how many domains each holds."""
        members = (
            select(RedirectDomain.group_id, func.count().label("n"))
            .where(RedirectDomain.group_id.is_not(None))
            .group_by(RedirectDomain.group_id)
            .subquery()
        )
        statement = (
            select(RedirectGroup, func.coalesce(members.c.n, 0))
            .outerjoin(members, members.c.group_id == RedirectGroup.id)
            .order_by(func.lower(RedirectGroup.name), RedirectGroup.id)
        )
        if owner_id is not None:
            statement = statement.where(RedirectGroup.owner_id == owner_id)
        rows = await self.session.execute(statement)
        return [(group, int(count)) for group, count in rows.all()]

    async def add(self, group: RedirectGroup) -> RedirectGroup:
        self.session.add(group)
        await self.session.flush()
        return group

    async def delete(self, group: RedirectGroup) -> None:
        """The group and its rollups; its domains stay, without a group."""
        group_id = group.id
        await self.session.execute(
            update(RedirectDomain)
            .where(RedirectDomain.group_id == group_id)
            .values(group_id=None)
            .execution_options(synchronize_session=False)
        )
        for model in (RedirectDailyCount, RedirectMonthlyCount):
            await self.session.execute(
                delete(model).where(model.scope == GROUP, model.scope_id == group_id)
            )
        await self.session.delete(group)
        await self.session.flush()


class RoutingStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def version(self) -> int:
        value = await self.session.scalar(
            select(RedirectRoutingState.version).where(RedirectRoutingState.id == ROUTING_STATE_ID)
        )
        return int(value or 0)

    async def bump(self) -> int:
        """Move the routing version; once committed, the request answers only after the data
        plane serves it (`redirect.barrier`). The new version."""
        statement = _insert(self.session, RedirectRoutingState).values(
            id=ROUTING_STATE_ID, version=1
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["id"],
            set_={"version": RedirectRoutingState.version + 1},
        ).returning(RedirectRoutingState.version)
        version = int((await self.session.execute(statement)).scalar_one())
        after_commit(self.session, functools.partial(routing_changed, version))
        return version


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


_counts = cast(Table, RedirectDailyCount.__table__)
_monthly = cast(Table, RedirectMonthlyCount.__table__)
# Each breakdown rollup with the name of its period column.
_COUNT_TABLES = ((_counts, "day"), (_monthly, "month"))
_TOTAL_LITERAL: ColumnClause[str] = literal_column(f"'{TOTAL}'")
_totals = cast(Table, RedirectDailyTotal.__table__)
_hourly = cast(Table, RedirectHourlyTotal.__table__)
_domains = cast(Table, RedirectDomain.__table__)
COUNT_KEY = ["scope", "scope_id", "dimension", "day", "value"]
MONTH_KEY = ["scope", "scope_id", "dimension", "month", "value"]
_DOMAIN_TOTALS = (
    update(_domains)
    .where(_domains.c.id == bindparam("b_id"))
    .values(
        total_hits=_domains.c.total_hits + bindparam("b_hits"),
        bot_hits=_domains.c.bot_hits + bindparam("b_bots"),
        last_hit=case(
            (_domains.c.last_hit.is_(None), bindparam("b_last")),
            (_domains.c.last_hit < bindparam("b_last"), bindparam("b_last")),
            else_=_domains.c.last_hit,
        ),
    )
)


class RollupRepository:
    """The owner and group rollups are sums of their domains' rows: moving a domain moves its
    part, so a group's history is always that of the domains it holds."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _of_domains(self, table: Table, period: str, ids: Sequence[int]) -> Any:
        source = table.alias("source")
        return (
            select(
                source.c.dimension,
                source.c[period],
                source.c.value,
                func.sum(source.c.hits).label("hits"),
                func.sum(source.c.bots).label("bots"),
                func.sum(source.c.visitors).label("visitors"),
            )
            .where(source.c.scope == DOMAIN, source.c.scope_id.in_(list(ids)))
            .group_by(source.c.dimension, source.c[period], source.c.value)
        )

    async def subtract(self, scope: str, scope_id: int, domain_ids: Sequence[int]) -> None:
        for table, period in _COUNT_TABLES:
            part = self._of_domains(table, period, domain_ids).subquery()
            await self.session.execute(
                update(table)
                .where(
                    table.c.scope == scope,
                    table.c.scope_id == scope_id,
                    table.c.dimension == part.c.dimension,
                    table.c[period] == part.c[period],
                    table.c.value == part.c.value,
                )
                .values(
                    hits=table.c.hits - part.c.hits,
                    bots=table.c.bots - part.c.bots,
                    visitors=table.c.visitors - part.c.visitors,
                )
            )
            await self.session.execute(
                delete(table).where(
                    table.c.scope == scope, table.c.scope_id == scope_id, table.c.hits <= 0
                )
            )

    async def add_domains(self, scope: str, scope_id: int, domain_ids: Sequence[int]) -> None:
        for table, period in _COUNT_TABLES:
            source = self._of_domains(table, period, domain_ids).subquery()
            rows = select(
                literal(scope, table.c.scope.type).label("scope"),
                literal(scope_id, table.c.scope_id.type).label("scope_id"),
                source.c.dimension,
                source.c[period],
                source.c.value,
                source.c.hits,
                source.c.bots,
                source.c.visitors,
            ).where(source.c.hits > 0)
            statement = _insert(self.session, table).from_select(
                ["scope", "scope_id", "dimension", period, "value", "hits", "bots", "visitors"],
                rows,
            )
            excluded = statement.excluded  # type: ignore[attr-defined]
            statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=["scope", "scope_id", "dimension", period, "value"],
                set_={
                    "hits": table.c.hits + excluded.hits,
                    "bots": table.c.bots + excluded.bots,
                    "visitors": table.c.visitors + excluded.visitors,
                },
            )
            await self.session.execute(statement)

    async def prune_hourly(self, before_hour: int) -> int:
        result = await self.session.execute(
            delete(RedirectHourlyTotal).where(RedirectHourlyTotal.hour < before_hour)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class HitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owners_of(self, ids: set[int]) -> dict[int, tuple[int, int | None]]:
        """Domain id → (owner id, group id), for the domains that still exist."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(RedirectDomain.id, RedirectDomain.owner_id, RedirectDomain.group_id).where(
                RedirectDomain.id.in_(sorted(ids))
            )
        )
        return {int(i): (int(owner), group) for i, owner, group in rows.all()}

    async def write_batch(self, hits: Sequence[HitRow]) -> None:
        """Insert the hits and fold them into the rollups and the domain counters.

        Every rollup counts all hits and, beside them, the bots among them; user agents are
        parsed here (`analytics`), off the request path."""
        if not hits:
            return
        known = await self.owners_of({h.domain_id for h in hits if h.domain_id})
        rows: list[HitRow] = []
        for hit in hits:
            if hit.domain_id is not None and hit.domain_id not in known:
                hit = hit._replace(domain_id=None)  # deleted meanwhile: keep it as an orphan
            if not hit.is_bot and analytics.agent(hit.user_agent).device == analytics.BOT:
                hit = hit._replace(is_bot=True)
            rows.append(hit)
        await self._insert_hits(rows)

        per_day: dict[tuple[int, dt.date], list[int]] = {}
        per_hour: dict[tuple[int, int], list[int]] = {}
        per_value: dict[tuple[str, int, str, dt.date, str], list[int]] = {}
        last_hit: dict[int, int] = {}
        visitors: set[tuple[int, dt.date, str]] = set()
        days: dict[int, dt.date] = {}
        for row in rows:
            domain_id = row.domain_id
            if domain_id is None:
                continue
            owner_id, group_id = known[domain_id]
            epoch_day = row.ts // DAY_MS
            day = days.get(epoch_day) or days.setdefault(epoch_day, day_of(row.ts))
            bot = 1 if row.is_bot else 0
            _add(per_day, (domain_id, day), bot)
            _add(per_hour, (domain_id, row.ts // HOUR_MS), bot)
            agent = analytics.agent(row.user_agent)
            values = (
                (TOTAL, ""),
                ("country", row.country or ""),
                ("referrer", analytics.referrer_host(row.referer)),
                ("path", analytics.path_only(row.path)),
                ("browser", agent.browser),
                ("os", agent.os),
                ("device", agent.device),
            )
            scopes = [(DOMAIN, domain_id), (OWNER, owner_id)]
            if group_id is not None:
                scopes.append((GROUP, group_id))
            for scope, scope_id in scopes:
                for dimension, value in values:
                    _add(per_value, (scope, scope_id, dimension, day, value), bot)
            last_hit[domain_id] = max(last_hit.get(domain_id, 0), row.ts)
            if not bot:
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
        await self._upsert(
            _totals,
            ["domain_id", "day"],
            [
                {
                    "domain_id": d,
                    "day": day,
                    "hits": n,
                    "bots": b,
                    "visitors": new_visitors[(d, day)],
                }
                for (d, day), (n, b) in sorted(per_day.items())
            ],
            ("hits", "bots", "visitors"),
        )
        await self._upsert(
            _hourly,
            ["domain_id", "hour"],
            [
                {"domain_id": d, "hour": hour, "hits": n, "bots": b}
                for (d, hour), (n, b) in sorted(per_hour.items())
            ],
            ("hits", "bots"),
        )
        # The day's new unique visitors, in the `total` rows of the domain and its scopes.
        for (domain_id, day), count in new_visitors.items():
            owner_id, group_id = known[domain_id]
            scopes = [(DOMAIN, domain_id), (OWNER, owner_id)]
            if group_id is not None:
                scopes.append((GROUP, group_id))
            for scope, scope_id in scopes:
                entry = per_value[(scope, scope_id, TOTAL, day, "")]
                entry.extend([0] * (3 - len(entry)))
                entry[2] += count
        per_month: dict[tuple[str, int, str, dt.date, str], list[int]] = {}
        for (scope, scope_id, dimension, day, value), numbers in per_value.items():
            key = (scope, scope_id, dimension, day.replace(day=1), value)
            entry = per_month.setdefault(key, [0, 0, 0])
            for index, number in enumerate(numbers):
                entry[index] += number
        for table, period, keyed, limit in (
            (_counts, "day", per_value, analytics.VALUES_PER_DAY),
            (_monthly, "month", per_month, analytics.VALUES_PER_MONTH),
        ):
            capped = await self._cap(table, period, keyed, limit)
            await self._upsert(
                table,
                ["scope", "scope_id", "dimension", period, "value"],
                [
                    {
                        "scope": scope,
                        "scope_id": scope_id,
                        "dimension": dimension,
                        period: when,
                        "value": value,
                        "hits": counts[0],
                        "bots": counts[1],
                        "visitors": counts[2] if len(counts) > 2 else 0,
                    }
                    for (scope, scope_id, dimension, when, value), counts in sorted(capped.items())
                ],
                ("hits", "bots", "visitors"),
            )
        totals: dict[int, list[int]] = {}
        for (domain_id, _day), (n, b) in per_day.items():
            entry = totals.setdefault(domain_id, [0, 0])
            entry[0] += n
            entry[1] += b
        connection = await self.session.connection()
        await connection.execute(
            _DOMAIN_TOTALS,
            [
                {"b_id": d, "b_hits": n, "b_bots": b, "b_last": last_hit[d]}
                for d, (n, b) in sorted(totals.items())
            ],
        )

    async def _upsert(
        self, table: Table, key: list[str], rows: list[dict[str, Any]], summed: tuple[str, ...]
    ) -> None:
        """Add `rows` to the rollup `table` in one executemany."""
        if not rows:
            return
        statement = _insert(self.session, table)
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=key,
            set_={
                name: table.c[name] + getattr(statement.excluded, name)  # type: ignore[attr-defined]
                for name in summed
            },
        )
        connection = await self.session.connection()
        for chunk in _chunks(rows, 1000):
            await connection.execute(statement, chunk)

    async def _cap(
        self,
        table: Table,
        period: str,
        per_value: dict[tuple[str, int, str, dt.date, str], list[int]],
        limit: int,
    ) -> dict[tuple[str, int, str, dt.date, str], list[int]]:
        """Values beyond `limit` per scope, period and dimension become `OTHER` (countries,
        a bounded set, are never capped)."""
        new_per_key: dict[tuple[str, int, str, dt.date], set[str]] = defaultdict(set)
        for scope, scope_id, dimension, when, value in per_value:
            if dimension not in UNCAPPED:
                new_per_key[(scope, scope_id, dimension, when)].add(value)
        if not new_per_key:
            return per_value
        column = table.c[period]
        stored: Counter[tuple[str, int, str, dt.date]] = Counter()
        for scope in (DOMAIN, OWNER, GROUP):
            ids = sorted({k[1] for k in new_per_key if k[0] == scope})
            if not ids:
                continue
            periods = sorted({k[3] for k in new_per_key if k[0] == scope})
            rows = await self.session.execute(
                select(table.c.scope_id, table.c.dimension, column, func.count())
                .where(
                    table.c.scope == scope,
                    table.c.scope_id.in_(ids),
                    table.c.dimension.not_in(UNCAPPED),
                    column.in_(periods),
                )
                .group_by(table.c.scope_id, table.c.dimension, column)
            )
            for scope_id, dimension, when, count in rows.all():
                stored[(scope, scope_id, dimension, when)] = int(count)
        crowded = [key for key, values in new_per_key.items() if stored[key] + len(values) > limit]
        if not crowded:
            return per_value
        result = dict(per_value)
        for key in crowded:
            scope, scope_id, dimension, when = key
            existing = set(
                (
                    await self.session.scalars(
                        select(table.c.value).where(
                            table.c.scope == scope,
                            table.c.scope_id == scope_id,
                            table.c.dimension == dimension,
                            column == when,
                        )
                    )
                ).all()
            )
            room = max(limit - len(existing - {analytics.OTHER}), 0)
            # The busiest new values keep their own row while there is room.
            newcomers = sorted(
                (v for v in new_per_key[key] if v not in existing),
                key=lambda v: -per_value[(scope, scope_id, dimension, when, v)][0],
            )
            for value in newcomers[room:]:
                n, b = result.pop((scope, scope_id, dimension, when, value))[:2]
                other = result.setdefault(
                    (scope, scope_id, dimension, when, analytics.OTHER), [0, 0]
                )
                other[0] += n
                other[1] += b
        return result

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
        since_ms: int | None = None,
        until_ms: int | None = None,
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
        if since_ms is not None:
            statement = statement.where(RedirectHit.ts >= since_ms)
        if until_ms is not None:
            statement = statement.where(RedirectHit.ts < until_ms)
        return (await self.session.scalars(statement)).all()

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(RedirectHit)) or 0)


class StatsRepository:
    """Reads only the rollups: the number of stored hits never enters these queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def daily(
        self, domain_ids: Sequence[int] | None, since: dt.date
    ) -> dict[dt.date, tuple[int, int, int]]:
        """Hits, bots and visitors per day since `since` (summed over `domain_ids`, or all)."""
        statement = (
            select(
                RedirectDailyTotal.day,
                func.sum(RedirectDailyTotal.hits),
                func.sum(RedirectDailyTotal.bots),
                func.sum(RedirectDailyTotal.visitors),
            )
            .where(RedirectDailyTotal.day >= since)
            .group_by(RedirectDailyTotal.day)
        )
        if domain_ids is not None:
            statement = statement.where(RedirectDailyTotal.domain_id.in_(list(domain_ids)))
        rows = await self.session.execute(statement)
        return {
            day: (int(hits or 0), int(bots or 0), int(visitors or 0))
            for day, hits, bots, visitors in rows.all()
        }

    async def hourly(
        self, domain_ids: Sequence[int] | None, since_hour: int
    ) -> dict[int, tuple[int, int]]:
        statement = (
            select(
                RedirectHourlyTotal.hour,
                func.sum(RedirectHourlyTotal.hits),
                func.sum(RedirectHourlyTotal.bots),
            )
            .where(RedirectHourlyTotal.hour >= since_hour)
            .group_by(RedirectHourlyTotal.hour)
        )
        if domain_ids is not None:
            statement = statement.where(RedirectHourlyTotal.domain_id.in_(list(domain_ids)))
        rows = await self.session.execute(statement)
        return {int(hour): (int(hits or 0), int(bots or 0)) for hour, hits, bots in rows.all()}

    async def counts(
        self,
        scope: str,
        scope_ids: Sequence[int] | None,
        since: dt.date,
        dimensions: Sequence[str],
        *,
        today: dt.date | None = None,
    ) -> list[tuple[str, str, int, int]]:
        """(dimension, value, hits, bots) from `since` through today, summed over the scope ids
        (all of the scope for None)."""
        totals: dict[tuple[str, str], list[int]] = {}
        for table, window in _windows(since, today or utc_now().date()):
            statement = (
                select(
                    table.c.dimension, table.c.value, func.sum(table.c.hits), func.sum(table.c.bots)
                )
                .where(table.c.scope == scope, table.c.dimension.in_(list(dimensions)), window)
                .group_by(table.c.dimension, table.c.value)
            )
            if scope_ids is not None:
                statement = statement.where(table.c.scope_id.in_(list(scope_ids)))
            for dimension, value, hits, bots in (await self.session.execute(statement)).all():
                entry = totals.setdefault((dimension, value), [0, 0])
                entry[0] += int(hits or 0)
                entry[1] += int(bots or 0)
        return [(d, v, n, b) for (d, v), (n, b) in totals.items() if n > 0]

    async def series(
        self, scope: str, scope_ids: Sequence[int] | None, since: dt.date
    ) -> dict[dt.date, tuple[int, int, int]]:
        """Hits, bots and visitors per day of a scope (one `total` row per day)."""
        statement = (
            select(
                _counts.c.day,
                func.sum(_counts.c.hits),
                func.sum(_counts.c.bots),
                func.sum(_counts.c.visitors),
            )
            .where(_counts.c.scope == scope, _counts.c.dimension == TOTAL, _counts.c.day >= since)
            .group_by(_counts.c.day)
        )
        if scope_ids is not None:
            statement = statement.where(_counts.c.scope_id.in_(list(scope_ids)))
        rows = await self.session.execute(statement)
        return {day: (int(n or 0), int(b or 0), int(v or 0)) for day, n, b, v in rows.all()}

    async def domain_totals(
        self, domain_ids: Sequence[int], since: dt.date, *, today: dt.date | None = None
    ) -> dict[int, tuple[int, int]]:
        """Hits and bots of each domain from `since` through today (months and edge days).

        Many domains: one range over the `total` index per period, filtered here; a few: one
        key lookup each."""
        wanted = set(domain_ids)
        totals: dict[int, list[int]] = {}
        chunks: list[list[int] | None] = [None] if len(wanted) > 50 else [sorted(wanted)]
        for chunk in chunks:
            for table, window in _windows(since, today or utc_now().date()):
                statement = (
                    select(table.c.scope_id, func.sum(table.c.hits), func.sum(table.c.bots))
                    # A literal, so SQLite can tell the partial index applies.
                    .where(table.c.scope == DOMAIN, table.c.dimension == _TOTAL_LITERAL, window)
                    .group_by(table.c.scope_id)
                )
                if chunk is not None:
                    statement = statement.where(table.c.scope_id.in_(chunk))
                for domain_id, hits, bots in (await self.session.execute(statement)).all():
                    if domain_id not in wanted:
                        continue
                    entry = totals.setdefault(int(domain_id), [0, 0])
                    entry[0] += int(hits or 0)
                    entry[1] += int(bots or 0)
        return {i: (n, b) for i, (n, b) in totals.items()}

    async def names(self, where: DomainFilter) -> list[tuple[int, str]]:
        """(id, name) of every matching domain."""
        rows = await self.session.execute(
            where.apply(select(RedirectDomain.id, RedirectDomain.domain))
        )
        return [(int(i), name) for i, name in rows.all()]

    async def owner_ids(self) -> list[int]:
        """Owners that have domains (the scopes of an admin's summary)."""
        rows = await self.session.scalars(select(RedirectDomain.owner_id).distinct())
        return sorted(int(i) for i in rows.all())


def _windows(since: dt.date, today: dt.date) -> list[tuple[Table, Any]]:
    """How to read `since` through `today`: whole months from the monthly rollup, the days before
    and after them from the daily one; each part a plain range on the key."""
    first_full = since if since.day == 1 else _next_month(since)
    this_month = today.replace(day=1)
    if first_full >= this_month:
        return [(_counts, _counts.c.day >= since)]
    parts: list[tuple[Table, Any]] = [
        (_monthly, (_monthly.c.month >= first_full) & (_monthly.c.month < this_month))
    ]
    if since < first_full:
        parts.append((_counts, (_counts.c.day >= since) & (_counts.c.day < first_full)))
    parts.append((_counts, _counts.c.day >= this_month))
    return parts


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _add(counts: dict[Any, list[int]], key: Any, bot: int) -> None:
    """Count a hit (and whether it was a bot) under `key`."""
    entry = counts.get(key)
    if entry is None:
        counts[key] = [1, bot]
    else:
        entry[0] += 1
        entry[1] += bot


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
