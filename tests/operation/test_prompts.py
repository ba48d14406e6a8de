"""Questions operations stop at: `waiting` with `prompts`, going on with the answer, timing out
into `failed`, answers given in advance, and who may answer."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_staff, jwt_for
from tests.operation.test_router import wait_for


async def _wait_status(
    client: httpx.AsyncClient, operation_id: str, headers: dict[str, str], status: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(300):
        body = (await client.get(f"/api/operations/{operation_id}", headers=headers)).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation {operation_id} never became {status}: {body}")


async def _asking_probe(
    client: httpx.AsyncClient, headers: dict[str, str], **options: Any
) -> dict[str, Any]:
    started = await client.post(
        "/api/operations/probe",
        json={"steps": 2, "seconds": 0, "ask": True, **options},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    return dict(started.json())


class TestPrompts:
    async def test_an_operation_waits_for_the_answer_and_goes_on(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers))["id"]
        waiting = await _wait_status(client, operation_id, headers, "waiting")
        (prompt,) = waiting["prompts"]
        assert prompt["id"] == "go_on"
        assert "go on?" in prompt["message"]
        assert [o["id"] for o in prompt["options"]] == ["continue", "stop"]
        assert waiting["message"] == prompt["message"]
        listed = await client.get("/api/operations?status=waiting", headers=headers)
        assert [o["prompts"][0]["id"] for o in listed.json()["items"]] == ["go_on"]

        wrong = await client.post(
            f"/api/operations/{operation_id}/answer", json={"answer": "maybe"}, headers=headers
        )
        assert wrong.status_code == 422
        assert wrong.json()["code"] == "invalid_answer"
        assert wrong.json()["detail"]
        unknown = await client.post(
            f"/api/operations/{operation_id}/answer",
            json={"prompt_id": "other", "answer": "continue"},
            headers=headers,
        )
        assert unknown.status_code == 404

        answered = await client.post(
            f"/api/operations/{operation_id}/answer", json={"answer": "continue"}, headers=headers
        )
        assert answered.status_code == 200, answered.text
        done = await wait_for(client, operation_id, headers)
        assert done["status"] == "completed"
        assert done["prompts"] == []
        messages = [e["message"] for e in done["events"]]
        assert any(m.startswith("Waiting for an answer") for m in messages)
        assert any(m.startswith("Answered by") and m.endswith("Go on") for m in messages)
        again = await client.post(
            f"/api/operations/{operation_id}/answer", json={"answer": "stop"}, headers=headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "not_waiting"

    async def test_declining_cancels_the_operation(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers))["id"]
        await _wait_status(client, operation_id, headers, "waiting")
        answered = await client.post(
            f"/api/operations/{operation_id}/answer",
            json={"prompt_id": "go_on", "answer": "stop"},
            headers=headers,
        )
        assert answered.status_code == 200
        done = await wait_for(client, operation_id, headers)
        assert done["status"] == "cancelled"
        assert done["error"]["code"] == "declined"

    async def test_no_answer_in_time_fails_the_operation(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers, ask_timeout_seconds=1))["id"]
        done = await wait_for(client, operation_id, headers, timeout=30)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "prompt_timeout"
        late = await client.post(
            f"/api/operations/{operation_id}/answer", json={"answer": "continue"}, headers=headers
        )
        assert late.status_code == 409

    async def test_an_answer_given_in_advance_is_never_asked(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers, answers={"go_on": "continue"}))["id"]
        done = await wait_for(client, operation_id, headers)
        assert done["status"] == "completed"
        assert any("Answered in advance" in e["message"] for e in done["events"])

    async def test_cancelling_a_waiting_operation_ends_it(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers))["id"]
        await _wait_status(client, operation_id, headers, "waiting")
        cancelled = await client.post(f"/api/operations/{operation_id}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        final = await wait_for(client, operation_id, headers)
        assert final["status"] == "cancelled"
        assert final["prompts"] == []

    async def test_only_the_owner_or_an_admin_answers(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        operation_id = (await _asking_probe(client, headers))["id"]
        await _wait_status(client, operation_id, headers, "waiting")
        staff = bearer(jwt_for(runtime, await create_staff(runtime)))
        seen = await client.get(f"/api/operations/{operation_id}", headers=staff)
        assert seen.status_code == 200  # the company sees every operation
        refused = await client.post(
            f"/api/operations/{operation_id}/answer", json={"answer": "stop"}, headers=staff
        )
        assert refused.status_code == 404
        await client.post(f"/api/operations/{operation_id}/cancel", headers=headers)
