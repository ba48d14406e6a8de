"""The webhook and notification pages: an endpoint's secret is shown once, deliveries are
listed with their tries and can be sent again, recipients are set per event."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.notify.receivers import webhook_receiver
from tests.web.test_router import log_in

SECRET = re.compile(r'id="new-secret" class="secret">(whsec_[A-Za-z0-9_-]+)<')


async def test_an_endpoint_is_added_tested_and_resent(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "notify_retry_seconds", 0.2)
    admin = await create_admin(runtime)
    csrf = await log_in(client, admin.username)
    with webhook_receiver() as receiver:
        created = await client.post(
            "/ui/webhooks",
            data={"csrf_token": csrf, "url": receiver.url, "events": ["operation.failed"]},
        )
        assert created.status_code == 303
        page = await client.get("/ui/webhooks")
        match = SECRET.search(page.text)
        assert match, page.text
        again = await client.get("/ui/webhooks")
        assert match.group(1) not in again.text
        assert receiver.url in again.text

        endpoint_id = re.search(r"/ui/webhooks/(\d+)/ping", again.text)
        assert endpoint_id
        pinged = await client.post(
            f"/ui/webhooks/{endpoint_id.group(1)}/ping", data={"csrf_token": csrf}
        )
        assert pinged.status_code == 303
        await asyncio.to_thread(receiver.wait, 1)
        for _ in range(50):
            listed = await client.get("/ui/webhooks")
            resend = re.search(r"/ui/webhooks/deliveries/([0-9a-f-]+)/resend", listed.text)
            if resend:
                break
            await asyncio.sleep(0.1)
        assert resend, listed.text
        assert "webhook.ping" in listed.text
        sent = await client.post(resend.group(0), data={"csrf_token": csrf})
        assert sent.status_code == 303
        await asyncio.to_thread(receiver.wait, 2)


async def test_recipients_are_set_per_event(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await create_admin(runtime)
    csrf = await log_in(client, admin.username)
    saved = await client.post(
        "/ui/notifications/license.expired",
        data={"csrf_token": csrf, "recipients": "ops@example.test\nsales@example.test"},
    )
    assert saved.status_code == 303
    page = await client.get("/ui/notifications")
    assert "ops@example.test\nsales@example.test" in page.text
    assert "SMTP_HOST" in page.text  # not configured in tests


async def test_customers_do_not_see_the_pages(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await create_user(runtime)
    await log_in(client, user.username)
    for path in ("/ui/webhooks", "/ui/notifications"):
        response = await client.get(path)
        assert response.status_code in (403, 404)
