"""Where events are announced: licenses, servers and redirect domains."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import httpx
from sqlalchemy import select

from stellwerk.license import service as license_service
from stellwerk.models import NotificationEvent, RedirectDomain, VpsInstance
from stellwerk.redirect import events as redirect_events
from stellwerk.runtime import Runtime
from stellwerk.server import events as server_events
from tests.factories import create_user
from tests.license.factories import create_license


async def announced(runtime: Runtime, event: str) -> Sequence[NotificationEvent]:
    async with runtime.database.session() as session:
        rows = await session.scalars(
            select(NotificationEvent)
            .where(NotificationEvent.event == event)
            .order_by(NotificationEvent.created_at)
        )
        return rows.all()


class TestLicenses:
    async def test_activation_and_the_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=1)
        first = await client.post(
            "/api/license/activate",
            json={"license_key": lic.license_key, "hardware_hash": "hw-1"},
            headers=key_headers,
        )
        assert first.status_code == 200
        [activated] = await announced(runtime, "license.activated")
        assert activated.data["license_id"] == lic.id
        for _ in range(2):  # refused twice: announced once a day
            refused = await client.post(
                "/api/license/activate",
                json={"license_key": lic.license_key, "hardware_hash": "hw-2"},
                headers=key_headers,
            )
            assert refused.status_code == 409
        [limit] = await announced(runtime, "license.activation_limit_reached")
        assert limit.data["license_id"] == lic.id
        assert limit.data["max_activations"] == 1

    async def test_expiring_and_expired_are_announced_once(self, runtime: Runtime) -> None:
        today = dt.date(2030, 6, 1)
        soon = await create_license(
            runtime, valid_from=dt.date(2030, 1, 1), valid_until=dt.date(2030, 6, 20)
        )
        later = await create_license(
            runtime, valid_from=dt.date(2030, 1, 1), valid_until=dt.date(2030, 9, 1)
        )
        ended = await create_license(
            runtime, valid_from=dt.date(2030, 1, 1), valid_until=dt.date(2030, 5, 30)
        )
        for _ in range(2):
            await license_service.announce_expiry(runtime.database, runtime.settings, on=today)
        [expiring] = await announced(runtime, "license.expiring")
        [expired] = await announced(runtime, "license.expired")
        assert expiring.data["license_id"] == soon.id
        assert expiring.data["days_left"] == 19
        assert expired.data["license_id"] == ended.id
        assert later.id not in {expiring.data["license_id"], expired.data["license_id"]}


class TestServersAndDomains:
    async def test_a_server_state_change(self, runtime: Runtime) -> None:
        user = await create_user(runtime)
        async with runtime.database.session() as session:
            instance = VpsInstance(user_id=user.id, label="web-1", status="running")
            session.add(instance)
            await session.flush()
            await server_events.state_changed(session, instance, "running")  # no change
            instance.status = "off"
            await server_events.state_changed(session, instance, "running")
        [changed] = await announced(runtime, "server.state_changed")
        assert changed.data["status_before"] == "running"
        assert changed.data["status"] == "off"
        assert changed.data["label"] == "web-1"

    async def test_redirect_domain_verification(self, runtime: Runtime) -> None:
        user = await create_user(runtime)
        async with runtime.database.session() as session:
            domain = RedirectDomain(
                domain="example-notify.test",
                owner_id=user.id,
                target_url="https://example.test/",
                status="pending",
            )
            session.add(domain)
            await session.flush()
            await redirect_events.verification(session, domain, ok=False, before="pending")
            domain.status = "active"
            await redirect_events.verification(session, domain, ok=True, before="pending")
            await redirect_events.verification(session, domain, ok=True, before="active")
        assert len(await announced(runtime, "redirect_domain.verification_failed")) == 1
        [verified] = await announced(runtime, "redirect_domain.verified")
        assert verified.data["domain"] == "example-notify.test"
