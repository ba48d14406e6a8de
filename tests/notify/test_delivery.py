"""Events reach webhooks and e-mail: signed, within seconds, again after a failed try."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from stellwerk.config import Settings
from stellwerk.notify import signing
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.notify.receivers import Mailbox, smtp_server, webhook_receiver
from tests.operation.test_router import wait_for


@pytest.fixture
def fast_retries(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(runtime.settings, "notify_retry_seconds", 0.2)
    monkeypatch.setattr(runtime.settings, "notify_max_attempts", 3)
    return runtime.settings


@pytest.fixture
def mailbox(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as box:
        monkeypatch.setattr(runtime.settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(runtime.settings, "smtp_port", box.port)
        monkeypatch.setattr(runtime.settings, "smtp_from", "stellwerk@example.test")
        yield box


async def _fail_an_operation(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A probe whose question times out: the operation fails (`prompt_timeout`)."""
    started = await client.post(
        "/api/operations/probe",
        json={"steps": 2, "seconds": 0, "ask": True, "ask_timeout_seconds": 0.1},
        headers=headers,
    )
    assert started.status_code == 202
    operation_id = str(started.json()["id"])
    done = await wait_for(client, operation_id, headers)
    assert done["status"] == "failed"
    return operation_id


async def _deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], **query: str
) -> list[dict[str, object]]:
    response = await client.get("/api/admin/webhooks/deliveries", params=query, headers=headers)
    assert response.status_code == 200
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def _until(client: httpx.AsyncClient, headers: dict[str, str], check: object) -> None:
    for _ in range(100):
        if callable(check) and check(await _deliveries(client, headers)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(await _deliveries(client, headers))


class TestOperationFailed:
    async def test_a_signed_webhook_arrives_again_after_a_500_and_an_email_too(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        fast_retries: Settings,
        mailbox: Mailbox,
    ) -> None:
        headers = await admin_headers(runtime)
        with webhook_receiver(answers=[500]) as receiver:
            created = await client.post(
                "/api/admin/webhooks",
                json={"url": receiver.url, "events": ["operation.failed"]},
                headers=headers,
            )
            assert created.status_code == 201
            secret = created.json()["secret"]
            assert secret.startswith("whsec_")
            set_mail = await client.put(
                "/api/admin/notifications/operation.failed",
                json={"recipients": ["Ops@Example.test"]},
                headers=headers,
            )
            assert set_mail.json()["recipients"] == ["ops@example.test"]

            operation_id = await _fail_an_operation(client, headers)
            failed_at = time.monotonic()
            first, second = await asyncio.to_thread(receiver.wait, 2)
            assert first.at - failed_at < 5.0

        for request in (first, second):
            assert signing.verify(secret, request.body, request.headers[signing.HEADER])
            assert request.headers["Stellwerk-Event"] == "operation.failed"
        assert first.body == second.body
        payload = json.loads(second.body)
        assert payload["type"] == "operation.failed"
        assert payload["data"]["operation_id"] == operation_id
        assert payload["data"]["error"]["code"] == "prompt_timeout"
        assert not signing.verify("whsec_wrong", second.body, second.headers[signing.HEADER])

        [(sender, to, mail)] = await asyncio.to_thread(mailbox.wait, 1)
        assert sender == "stellwerk@example.test"
        assert to == ["ops@example.test"]
        assert "operation.failed" in mail.get_payload() or "failed" in str(mail["Subject"])
        assert operation_id in str(mail.get_payload())

        def settled(items: list[dict[str, object]]) -> bool:
            return all(i["status"] == "delivered" for i in items) and len(items) == 2

        await _until(client, headers, settled)
        webhook = (await _deliveries(client, headers, channel="webhook"))[0]
        assert webhook["attempts"] == 2
        assert [a["response_code"] for a in webhook["attempts_log"]] == [500, 200]  # type: ignore[union-attr]

    async def test_resend_delivers_the_same_event_again(
        self, client: httpx.AsyncClient, runtime: Runtime, fast_retries: Settings
    ) -> None:
        headers = await admin_headers(runtime)
        with webhook_receiver() as receiver:
            created = await client.post(
                "/api/admin/webhooks",
                json={"url": receiver.url, "events": ["operation.failed", "operation.completed"]},
                headers=headers,
            )
            secret = created.json()["secret"]
            await _fail_an_operation(client, headers)
            [first] = await asyncio.to_thread(receiver.wait, 1)
            await _until(client, headers, lambda items: items[0]["status"] == "delivered")
            [delivery] = await _deliveries(client, headers)
            resent = await client.post(
                f"/api/admin/webhooks/deliveries/{delivery['id']}/resend", headers=headers
            )
            assert resent.status_code == 202
            assert resent.json()["resent_from"] == delivery["id"]
            _, again = await asyncio.to_thread(receiver.wait, 2)
        assert json.loads(again.body)["id"] == json.loads(first.body)["id"]
        assert again.headers["Stellwerk-Delivery"] == resent.json()["id"]
        assert signing.verify(secret, again.body, again.headers[signing.HEADER])

    async def test_an_endpoint_that_keeps_failing_is_given_up_on(
        self, client: httpx.AsyncClient, runtime: Runtime, fast_retries: Settings
    ) -> None:
        headers = await admin_headers(runtime)
        with webhook_receiver(answers=[503, 503, 503, 503]) as receiver:
            await client.post(
                "/api/admin/webhooks",
                json={"url": receiver.url, "events": ["operation.failed"]},
                headers=headers,
            )
            await _fail_an_operation(client, headers)
            await _until(client, headers, lambda items: items and items[0]["status"] == "failed")
        [delivery] = await _deliveries(client, headers)
        assert delivery["attempts"] == 3
        assert delivery["response_code"] == 503
        assert delivery["error"] == "HTTP 503"

    async def test_an_unreachable_endpoint_is_tried_again_then_given_up_on(
        self, client: httpx.AsyncClient, runtime: Runtime, fast_retries: Settings
    ) -> None:
        headers = await admin_headers(runtime)
        with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await client.post(
            "/api/admin/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hook", "events": ["operation.failed"]},
            headers=headers,
        )
        await _fail_an_operation(client, headers)
        await _until(client, headers, lambda items: items and items[0]["status"] == "failed")
        [delivery] = await _deliveries(client, headers)
        assert delivery["attempts"] == 3
        assert delivery["response_code"] is None
        assert str(delivery["error"]).startswith("ConnectError")


class TestSignature:
    def test_a_signature_verifies_only_with_its_secret_body_and_time(self) -> None:
        body = b'{"a":1}'
        value = signing.header("whsec_x", body, timestamp=1_700_000_000)
        assert value.startswith("t=1700000000,v1=")
        assert signing.verify("whsec_x", body, value, now=1_700_000_010)
        assert not signing.verify("whsec_x", body + b" ", value, now=1_700_000_010)
        assert not signing.verify("whsec_y", body, value, now=1_700_000_010)
        assert not signing.verify("whsec_x", body, value, now=1_700_001_000)  # too old
