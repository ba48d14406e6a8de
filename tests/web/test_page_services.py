"""The small service methods the pages added: expiring filter, activations per day, sessions,
and admins' view of every server."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from stellwerk.audit.actor import Actor
from stellwerk.exceptions import NotFound
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.license import service as license_services
from stellwerk.models import VpsInstance
from stellwerk.runtime import Runtime
from stellwerk.server.service import instance_service
from tests.factories import create_user
from tests.license.factories import create_customer, create_license


async def test_expiring_filter(runtime: Runtime) -> None:
    customer = await create_customer(runtime)
    today = license_services.today()
    soon = await create_license(
        runtime, customer=customer, license_type="subscription", valid_until=today + dt.timedelta(5)
    )
    await create_license(
        runtime,
        customer=customer,
        license_type="subscription",
        valid_until=today + dt.timedelta(days=90),
    )
    await create_license(runtime, customer=customer)  # perpetual: never expires
    async with runtime.database.session() as session:
        rows, total = await license_services.license.list(
            session,
            params=PageParams(page=1, per_page=10),
            customer_id=customer.id,
            expiring_within_days=30,
        )
    assert [r.id for r in rows] == [soon.id]
    assert total == 1


async def test_activations_per_day_and_sessions(runtime: Runtime) -> None:
    license = await create_license(runtime, max_activations=5)
    other = await create_license(runtime, max_activations=5)
    async with runtime.database.session() as session:
        for number, target in ((1, license), (2, license), (3, other)):
            await license_services.activation.activate(
                session, Actor.system(), license_id=target.id, hardware_hash=f"hw-{number}"
            )
    async with runtime.database.session() as session:
        mine = await license_services.activation.per_day(session, days=7, license_id=license.id)
        everyone = await license_services.activation.per_day(session, days=7)
        found = await license_services.license.get(session, license.id)
        sessions = await license_services.license.sessions(session, found)
    today = license_services.today()
    assert mine == {today: 2}
    assert everyone[today] >= 3
    assert sessions == []


async def test_admins_see_every_server(runtime: Runtime) -> None:
    owner = await create_user(runtime, username="serverowner")
    async with runtime.database.session() as session:
        instance = VpsInstance(user_id=owner.id, label="someone-elses", status="running")
        session.add(instance)
        await session.flush()
        instance_id = instance.id
    async with runtime.database.session() as session:
        everyone = Principal.system()
        rows, total = await instance_service.list(
            session, everyone, params=PageParams(page=1, per_page=50)
        )
        assert instance_id in {r.id for r in rows}
        assert total >= 1
        assert (await instance_service.get(session, everyone, instance_id)).label == "someone-elses"
        with pytest.raises(NotFound):
            await instance_service.get(session, everyone, uuid.uuid4())
