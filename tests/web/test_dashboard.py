"""The dashboard's figures: the right numbers, and each viewer only their own."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import httpx

from stellwerk.dashboard.service import dashboard
from stellwerk.identity.principal import Principal
from stellwerk.kit.time import utc_now
from stellwerk.license import service as license_services
from stellwerk.models import (
    Operation,
    Project,
    RedirectDailyTotal,
    RedirectDomain,
    ServiceProvider,
    User,
    VpsInstance,
    VpsPlan,
)
from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_staff, create_user
from tests.license.factories import create_license
from tests.web.test_router import log_in

ALL = {"servers": True, "projects": True, "licenses": True, "hits": True, "costs": True}


def _server(owner: User, status: str, **values: object) -> VpsInstance:
    return VpsInstance(
        user_id=owner.id,
        label=f"s-{uuid.uuid4().hex[:8]}",
        status=status,
        plan_specs={},
        options={},
        **values,
    )


async def _customer_with_things(runtime: Runtime) -> tuple[User, int]:
    """A customer with two running servers, one off, one deleted, a project, a redirect with
    hits today and yesterday, and a failed operation; returns the redirect's id."""
    owner = await create_user(runtime)
    today = utc_now().date()
    async with runtime.database.session() as session:
        session.add_all(
            [
                _server(owner, "running"),
                _server(owner, "running"),
                _server(owner, "off"),
                _server(owner, "deleted"),
                Project(
                    name=f"p-{uuid.uuid4().hex[:8]}",
                    domain=f"p-{uuid.uuid4().hex[:8]}.example",
                    plugins=[],
                    dns_records=[],
                    owner_user_id=owner.id,
                    state="provisioning",
                ),
                Operation(
                    kind="server.create",
                    idempotency_key=uuid.uuid4().hex,
                    owner_user_id=owner.id,
                    status="failed",
                    input={},
                    error={"message": "the provider said no"},
                ),
            ]
        )
        redirect = RedirectDomain(
            owner_id=owner.id,
            domain=f"r-{uuid.uuid4().hex[:8]}.example",
            target_url="https://example.org",
        )
        session.add(redirect)
        await session.flush()
        session.add_all(
            [
                RedirectDailyTotal(domain_id=redirect.id, day=today, hits=7, visitors=3),
                RedirectDailyTotal(
                    domain_id=redirect.id, day=today - dt.timedelta(days=1), hits=5, visitors=2
                ),
                # Older than the 30 days shown.
                RedirectDailyTotal(
                    domain_id=redirect.id, day=today - dt.timedelta(days=40), hits=99, visitors=1
                ),
            ]
        )
        return owner, redirect.id


async def test_a_customer_counts_their_own(runtime: Runtime) -> None:
    carol, _ = await _customer_with_things(runtime)
    await _customer_with_things(runtime)  # someone else's, not counted
    async with runtime.database.session() as session:
        figures = await dashboard.figures(session, Principal.of(carol.id, "customer"), **ALL)
    assert figures.servers == {"running": 2, "off": 1}
    assert figures.projects == {"provisioning": 1}
    assert figures.hits_today == 7
    assert figures.hits_total == 12
    assert figures.hits_per_day is not None
    assert len(figures.hits_per_day) == 30
    assert figures.failed_total == 1
    assert figures.failed[0].error == {"message": "the provider said no"}


async def test_the_company_counts_everyones(runtime: Runtime) -> None:
    await _customer_with_things(runtime)
    await _customer_with_things(runtime)
    async with runtime.database.session() as session:
        figures = await dashboard.figures(session, Principal.system(), **ALL)
    assert figures.servers is not None
    assert figures.servers["running"] >= 4
    assert figures.hits_today >= 14
    assert figures.failed_total >= 2


async def test_licenses_expiring_within_30_days(runtime: Runtime) -> None:
    today = license_services.today()

    async def expiring(days: int, **options: object) -> int:
        license = await create_license(
            runtime,
            license_type="subscription",
            valid_until=today + dt.timedelta(days=days),
            **options,
        )
        return license.id

    soon = await expiring(3)
    later = await expiring(29)
    await expiring(31)
    await expiring(5, is_active=False)  # switched off: nobody needs to act
    async with runtime.database.session() as session:
        figures = await dashboard.figures(session, Principal.system(), **ALL)
    listed = [lic.id for lic in figures.expiring]
    assert listed.index(soon) < listed.index(later)  # the soonest first
    assert figures.expiring_total is not None
    assert figures.expiring_total >= 2


async def test_provider_cost_and_plan_revenue(runtime: Runtime) -> None:
    owner = await create_user(runtime)
    name = f"Provider {uuid.uuid4().hex[:6]}"
    async with runtime.database.session() as session:
        provider = ServiceProvider(
            name=name, type="hetzner", api_key_encrypted="v1:x", configuration={}, active=True
        )
        session.add(provider)
        await session.flush()
        plan = VpsPlan(
            provider_id=provider.id,
            provider_plan_id="cx22",
            base_price=Decimal("4.50"),
            markup_price=Decimal("1.50"),
            specifications={},
        )
        session.add(plan)
        await session.flush()
        session.add_all(
            [
                _server(
                    owner,
                    "running",
                    provider_id=provider.id,
                    plan_id=plan.id,
                    monthly_rate=Decimal("6.00"),
                ),
                _server(
                    owner,
                    "off",
                    provider_id=provider.id,
                    plan_id=plan.id,
                    monthly_rate=Decimal("6.00"),
                ),
                # Ordered without a plan (an admin's own): a cost, no revenue.
                _server(owner, "running", provider_id=provider.id, monthly_rate=Decimal("20.00")),
                # Gone or never made: neither.
                _server(
                    owner,
                    "deleted",
                    provider_id=provider.id,
                    plan_id=plan.id,
                    monthly_rate=Decimal("6.00"),
                ),
                _server(
                    owner,
                    "failed",
                    provider_id=provider.id,
                    plan_id=plan.id,
                    monthly_rate=Decimal("6.00"),
                ),
            ]
        )
    async with runtime.database.session() as session:
        figures = await dashboard.figures(session, Principal.system(), **ALL)
    assert figures.money is not None
    row = next(m for m in figures.money if m.provider == name)
    assert (row.cost, row.revenue) == (Decimal("29.00"), Decimal("12.00"))


async def test_each_role_sees_its_figures(client: httpx.AsyncClient, runtime: Runtime) -> None:
    carol, _ = await _customer_with_things(runtime)
    await log_in(client, carol.username)
    page = (await client.get("/ui/")).text
    assert "Servers" in page
    assert "Redirect hits" in page
    assert "Failed operations" in page
    assert "the provider said no" in page
    assert "Licenses expiring" not in page
    assert "provider cost" not in page.lower()
    client.cookies.clear()

    staff = await create_staff(runtime)
    await log_in(client, staff.username)
    page = (await client.get("/ui/")).text
    assert "Licenses expiring in 30 days" in page
    assert "provider cost" not in page.lower()
    client.cookies.clear()

    admin = await create_admin(runtime)
    await log_in(client, admin.username)
    page = (await client.get("/ui/")).text
    assert "Monthly provider cost and plan revenue" in page
    assert "Recent changes" in page
