"""The admin API for webhooks and e-mail notifications."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from stellwerk.kit.secret import unseal
from stellwerk.models import WebhookEndpoint
from stellwerk.notify.events import EVENTS
from stellwerk.notify.service import secret_key
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_user, jwt_for

HOOK = {"url": "https://hooks.example.test/stellwerk", "events": ["operation.failed"]}


class TestWebhooks:
    async def test_the_secret_is_shown_once_and_kept_encrypted(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        created = await client.post("/api/admin/webhooks", json=HOOK, headers=headers)
        assert created.status_code == 201
        body = created.json()
        secret = body["secret"]
        assert body["events"] == ["operation.failed"]
        assert body["is_active"] is True
        shown = await client.get(f"/api/admin/webhooks/{body['id']}", headers=headers)
        listed = await client.get("/api/admin/webhooks", headers=headers)
        assert "secret" not in shown.json()
        assert secret not in shown.text
        assert secret not in listed.text
        async with runtime.database.session() as session:
            stored = await session.scalar(select(WebhookEndpoint))
        assert stored is not None
        assert secret not in stored.secret_encrypted
        assert unseal(secret_key(runtime.settings), stored.secret_encrypted) == secret

        rotated = await client.post(f"/api/admin/webhooks/{body['id']}/secret", headers=headers)
        assert rotated.status_code == 200
        assert rotated.json()["secret"] != secret

    async def test_update_and_delete(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await admin_headers(runtime)
        hook_id = (await client.post("/api/admin/webhooks", json=HOOK, headers=headers)).json()[
            "id"
        ]
        updated = await client.put(
            f"/api/admin/webhooks/{hook_id}",
            json={"events": ["license.expired", "project.live"], "is_active": False},
            headers=headers,
        )
        assert updated.status_code == 200
        assert updated.json()["events"] == ["license.expired", "project.live"]
        assert updated.json()["is_active"] is False
        assert updated.json()["url"] == HOOK["url"]
        deleted = await client.delete(f"/api/admin/webhooks/{hook_id}", headers=headers)
        assert deleted.status_code == 204
        gone = await client.get(f"/api/admin/webhooks/{hook_id}", headers=headers)
        assert gone.status_code == 404

    async def test_unknown_events_and_urls_are_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        unknown = await client.post(
            "/api/admin/webhooks", json={**HOOK, "events": ["nothing.happened"]}, headers=headers
        )
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "events"
        bad_url = await client.post(
            "/api/admin/webhooks", json={**HOOK, "url": "ftp://example.test"}, headers=headers
        )
        assert bad_url.status_code == 422

    async def test_customers_reach_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        hook_id = (await client.post("/api/admin/webhooks", json=HOOK, headers=headers)).json()[
            "id"
        ]
        customer = bearer(jwt_for(runtime, await create_user(runtime, role="customer")))
        for method, path in (
            ("GET", "/api/admin/webhooks"),
            ("GET", f"/api/admin/webhooks/{hook_id}"),
            ("DELETE", f"/api/admin/webhooks/{hook_id}"),
            ("GET", "/api/admin/webhooks/deliveries"),
            ("GET", "/api/admin/notifications"),
        ):
            response = await client.request(method, path, headers=customer)
            assert response.status_code in (403, 404), (method, path, response.status_code)
        still = await client.get(f"/api/admin/webhooks/{hook_id}", headers=headers)
        assert still.status_code == 200


class TestNotifications:
    async def test_recipients_per_event(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await admin_headers(runtime)
        initial = await client.get("/api/admin/notifications", headers=headers)
        assert initial.status_code == 200
        assert [e["event"] for e in initial.json()["events"]] == list(EVENTS)
        assert initial.json()["smtp_configured"] is False
        put = await client.put(
            "/api/admin/notifications/license.expiring",
            json={"recipients": ["b@example.test", "a@example.test", "a@example.test"]},
            headers=headers,
        )
        assert put.status_code == 200
        assert put.json()["recipients"] == ["a@example.test", "b@example.test"]
        listed = {
            e["event"]: e["recipients"]
            for e in (await client.get("/api/admin/notifications", headers=headers)).json()[
                "events"
            ]
        }
        assert listed["license.expiring"] == ["a@example.test", "b@example.test"]
        assert listed["license.expired"] == []
        bad = await client.put(
            "/api/admin/notifications/license.expiring",
            json={"recipients": ["not an address"]},
            headers=headers,
        )
        assert bad.status_code == 422
        unknown = await client.put(
            "/api/admin/notifications/nothing.happened", json={"recipients": []}, headers=headers
        )
        assert unknown.status_code == 404
