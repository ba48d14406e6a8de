from __future__ import annotations

import asyncio
import uuid

import httpx

from stellwerk.models import Operation
from stellwerk.runtime import Runtime
from tests.factories import (
    admin_headers,
    bearer,
    create_admin,
    create_staff,
    create_user,
    jwt_for,
)


async def wait_for(
    client: httpx.AsyncClient, operation_id: str, headers: dict[str, str], *, timeout: float = 30
) -> dict[str, object]:
    for _ in range(int(timeout / 0.1)):
        body: dict[str, object] = (
            await client.get(f"/api/operations/{operation_id}", headers=headers)
        ).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation {operation_id} did not finish: {body}")


class TestOperations:
    async def test_probe_runs_to_completion_with_progress(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        started = await client.post(
            "/api/operations/probe", json={"steps": 3, "seconds": 0}, headers=headers
        )
        assert started.status_code == 202
        assert started.json()["status"] == "queued"
        done = await wait_for(client, started.json()["id"], headers)
        assert done["status"] == "completed"
        assert done["progress"] == 100
        assert done["result"] == {"steps": 3}
        async with runtime.database.session() as session:
            row = await session.get(Operation, uuid.UUID(started.json()["id"]))
        assert row is not None
        assert row.executor_id == runtime.settings.executor_id
        assert done["executor_id"] == row.executor_id  # an admin sees which worker ran it
        steps = [e["step"] for e in done["events"]]  # type: ignore[union-attr,index]
        assert [s for s in steps if s and s.startswith("probe-")] == [
            "probe-1",
            "probe-2",
            "probe-3",
        ]

    async def test_the_same_idempotency_key_gives_the_same_operation(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        body = {"steps": 1, "seconds": 0, "idempotency_key": "once"}
        first = await client.post("/api/operations/probe", json=body, headers=headers)
        second = await client.post("/api/operations/probe", json=body, headers=headers)
        assert first.status_code == 202
        assert second.status_code == 200
        assert first.json()["id"] == second.json()["id"]
        listed = await client.get("/api/operations?kind=probe", headers=headers)
        assert listed.json()["total"] == 1

    async def test_cancel_stops_a_running_operation(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        started = await client.post(
            "/api/operations/probe", json={"steps": 10, "seconds": 0.3}, headers=headers
        )
        operation_id = started.json()["id"]
        await asyncio.sleep(0.5)
        cancelled = await client.post(f"/api/operations/{operation_id}/cancel", headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        await asyncio.sleep(1.0)
        final = await wait_for(client, operation_id, headers)
        assert final["status"] == "cancelled"
        again = await client.post(f"/api/operations/{operation_id}/cancel", headers=headers)
        assert again.status_code == 409

    async def test_others_operations_are_404(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        started = await client.post(
            "/api/operations/probe", json={"steps": 1, "seconds": 0}, headers=headers
        )
        stranger = bearer(jwt_for(runtime, await create_user(runtime)))
        response = await client.get(f"/api/operations/{started.json()['id']}", headers=stranger)
        assert response.status_code == 404
        missing = await client.get(f"/api/operations/{uuid.uuid4()}", headers=headers)
        assert missing.status_code == 404

    async def test_the_worker_is_named_to_the_company_only(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        customer = await create_user(runtime)
        async with runtime.database.session() as session:
            operation = Operation(
                kind="probe",
                idempotency_key=f"k-{uuid.uuid4()}",
                owner_user_id=customer.id,
                status="running",
                input={},
                executor_id="worker-a",
            )
            session.add(operation)
            await session.flush()
            operation_id = operation.id
        own = bearer(jwt_for(runtime, customer))
        staff = bearer(jwt_for(runtime, await create_staff(runtime)))
        for headers, expected in ((own, None), (staff, "worker-a")):
            one = await client.get(f"/api/operations/{operation_id}", headers=headers)
            assert one.json()["executor_id"] == expected
            listed = await client.get("/api/operations", headers=headers)
            assert [o["executor_id"] for o in listed.json()["items"]] == [expected]

    async def test_bad_input(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await admin_headers(runtime)
        too_many = await client.post("/api/operations/probe", json={"steps": 99}, headers=headers)
        assert too_many.status_code == 422
        assert too_many.json()["field"] == "steps"
        bad_status = await client.get("/api/operations?status=sleeping", headers=headers)
        assert bad_status.status_code == 422


class TestTimeline:
    async def test_events_carry_their_offsets_and_how_long_each_took(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        started = await client.post(
            "/api/operations/probe", json={"steps": 2, "seconds": 0.3}, headers=headers
        )
        done = await wait_for(client, started.json()["id"], headers)
        assert done["status"] == "completed"
        events = done["events"]
        assert isinstance(events, list)
        offsets = [e["offset_seconds"] for e in events]
        assert offsets == sorted(offsets)
        assert offsets[0] < 1.0
        assert events[-1]["step"] == "finish"
        assert events[-1]["seconds"] is None  # the end of a finished operation
        by_step = {e["step"]: e for e in events}
        # After step 1 the probe sleeps 0.3 s before step 2 writes its event.
        assert by_step["step-1"]["seconds"] >= 0.25
        for earlier, later in zip(events, events[1:], strict=False):
            assert (
                abs(earlier["offset_seconds"] + earlier["seconds"] - later["offset_seconds"]) < 0.01
            )
        assert isinstance(done["duration_seconds"], float)
        assert done["duration_seconds"] >= 0.5

        from tests.web.test_router import log_in  # here: that module imports this one

        await log_in(client, (await create_admin(runtime)).username)
        page = await client.get(f"/ui/operations/{started.json()['id']}")
        assert page.status_code == 200
        assert 'class="timeline' in page.text
        assert '<code class="small">step-1</code>' in page.text
        assert " s</td>" in page.text  # how long each took
