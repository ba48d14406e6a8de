"""The dashboard's figures. Every number comes from its area's repository, through the same
owner scoping as that area's lists: a customer counts their own servers, projects, redirect
hits and operations; the company counts everyone's. The caller says which figures the viewer
may see at all (by scope); a figure left out is None."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.time import utc_now
from stellwerk.license.repository import LicenseRepository
from stellwerk.models import License, Operation
from stellwerk.operation.repository import OperationRepository
from stellwerk.project.repository import ProjectRepository
from stellwerk.redirect.repository import DomainRepository, StatsRepository
from stellwerk.server.repository import InstanceRepository

TREND_DAYS = 30
EXPIRING_DAYS = 30
FAILED_DAYS = 30
LISTED = 5  # licenses and failed operations named on the dashboard


@dataclass(frozen=True)
class ProviderMoney:
    """One provider's servers a month: what the company pays, what customers pay for plans."""

    provider: str
    cost: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class Figures:
    servers: dict[str, int] | None = None
    projects: dict[str, int] | None = None
    expiring: Sequence[License] = ()
    expiring_total: int | None = None
    hits_per_day: list[tuple[dt.date, int]] | None = None
    failed: Sequence[Operation] = ()
    failed_total: int = 0
    money: list[ProviderMoney] | None = None

    @property
    def hits_today(self) -> int:
        return self.hits_per_day[-1][1] if self.hits_per_day else 0

    @property
    def hits_total(self) -> int:
        return sum(n for _, n in self.hits_per_day or [])


class DashboardService:
    async def figures(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        servers: bool,
        projects: bool,
        licenses: bool,
        hits: bool,
        costs: bool,
    ) -> Figures:
        """The figures the viewer may see (each flag: whether they may see that area)."""
        now = utc_now()
        failed, failed_total = await OperationRepository(session).failed_since(
            principal, now - dt.timedelta(days=FAILED_DAYS), limit=LISTED
        )
        expiring: Sequence[License] = ()
        expiring_total = None
        if licenses:
            today = now.date()
            expiring, expiring_total = await LicenseRepository(session).expiring(
                today, today + dt.timedelta(days=EXPIRING_DAYS), limit=LISTED
            )
        money = None
        if costs:
            money = [
                ProviderMoney(name, cost, revenue)
                for name, cost, revenue in await InstanceRepository(session).monthly_by_provider()
            ]
        return Figures(
            servers=await InstanceRepository(session).counts_by_status(principal)
            if servers
            else None,
            projects=await ProjectRepository(session).counts_by_state(principal)
            if projects
            else None,
            expiring=expiring,
            expiring_total=expiring_total,
            hits_per_day=await self._hits(session, principal, now.date()) if hits else None,
            failed=failed,
            failed_total=failed_total,
            money=money,
        )

    @staticmethod
    async def _hits(
        session: AsyncSession, principal: Principal, today: dt.date
    ) -> list[tuple[dt.date, int]]:
        """Redirect hits per UTC day for the last TREND_DAYS days, today last."""
        since = today - dt.timedelta(days=TREND_DAYS - 1)
        domain_ids = None
        if principal.owner_filter is not None:
            owned = await DomainRepository(session).list(owner_id=principal.owner_filter)
            domain_ids = [domain.id for domain in owned]
        per_day = (
            await StatsRepository(session).daily(domain_ids, since) if domain_ids != [] else {}
        )
        days = (since + dt.timedelta(days=offset) for offset in range(TREND_DAYS))
        return [(day, per_day.get(day, (0, 0))[0]) for day in days]


dashboard = DashboardService()
