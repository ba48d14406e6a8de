"""Module operations that stop with a question: an update across a major version, and removing
the primary instance of a module with several others."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.module.factories import RepositoryDir, install, manifest, wait_operation


async def wait_waiting(
    client: httpx.AsyncClient, headers: dict[str, str], operation_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(400):
        body = (await client.get(f"/modules/status/{operation_id}", headers=headers)).json()
        if body["status"] == "waiting":
            return body
        assert body["status"] not in ("completed", "failed", "cancelled"), body
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation {operation_id} never waited: {body}")


async def _versions(runtime: Runtime) -> dict[str, str]:
    async with runtime.database.session() as session:
        return {i.id: i.version for i in await ModuleInstanceRepository(session).list()}


class TestMajorUpdate:
    async def test_an_update_across_a_major_version_asks_first(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("app", "1.4.0"))
        _, final = await install(client, modules_headers, "app")
        assert final["status"] == "completed", final
        test_repository.add_module(manifest("app", "2.0.0"))

        started = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        assert started.status_code == 202, started.text
        operation_id = started.json()["operation_id"]
        waiting = await wait_waiting(client, modules_headers, operation_id)
        (prompt,) = waiting["prompts"]
        assert prompt["id"] == "major_update"
        assert "1.4.0 to 2.0.0 crosses a major version" in prompt["message"]
        assert [o["id"] for o in prompt["options"]] == ["continue", "abort"]
        assert list((await _versions(runtime)).values()) == ["1.4.0"]  # nothing changed yet

        answered = await client.post(
            f"/modules/status/{operation_id}/answer",
            json={"prompt_id": "major_update", "answer": "continue"},
            headers=modules_headers,
        )
        assert answered.status_code == 200, answered.text
        final = await wait_operation(client, modules_headers, operation_id)
        assert final["status"] == "completed", final
        assert final["prompts"] == []
        assert list((await _versions(runtime)).values()) == ["2.0.0"]

    async def test_declining_keeps_the_version_and_answers_in_advance_skip_the_question(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("app", "1.0.0"))
        await install(client, modules_headers, "app")
        test_repository.add_module(manifest("app", "2.0.0"))
        started = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        operation_id = started.json()["operation_id"]
        await wait_waiting(client, modules_headers, operation_id)
        bad = await client.post(
            f"/modules/status/{operation_id}/answer",
            json={"answer": "sure"},
            headers=modules_headers,
        )
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_answer"
        await client.post(
            f"/modules/status/{operation_id}/answer",
            json={"answer": "abort"},
            headers=modules_headers,
        )
        final = await wait_operation(client, modules_headers, operation_id)
        assert final["status"] == "cancelled"
        assert "stays at 1.0.0" in final["message"]
        assert list((await _versions(runtime)).values()) == ["1.0.0"]

        started = await client.post(
            "/modules/update",
            json={"module_name": "app", "answers": {"major_update": "continue"}},
            headers=modules_headers,
        )
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        assert list((await _versions(runtime)).values()) == ["2.0.0"]

    async def test_a_minor_update_asks_nothing(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("app", "0.1.0"))
        await install(client, modules_headers, "app")
        test_repository.add_module(manifest("app", "0.2.0"))
        started = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final


class TestRemovingThePrimary:
    async def test_removing_the_primary_asks_which_instance_becomes_primary(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("app", "1.0.0"))
        ids = []
        for _ in range(3):
            _, final = await install(client, modules_headers, "app")
            assert final["status"] == "completed", final
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        (group,) = listing["modules"]
        ids = [i["instance_id"] for i in group["instances"]]
        primary = group["primary_instance_id"]
        others = [i for i in ids if i != primary]

        started = await client.delete(f"/modules/instance/app/{primary}", headers=modules_headers)
        assert started.status_code == 202, started.text
        operation_id = started.json()["operation_id"]
        waiting = await wait_waiting(client, modules_headers, operation_id)
        (prompt,) = waiting["prompts"]
        assert prompt["id"] == "new_primary"
        assert "which instance becomes primary" in prompt["message"]
        assert sorted(o["id"] for o in prompt["options"]) == sorted(others)
        # The instance is still there while the question is open.
        shown = await client.get(f"/modules/instance/app/{primary}", headers=modules_headers)
        assert shown.status_code == 200

        chosen = others[-1]  # the newest, not the oldest the default would take
        answered = await client.post(
            f"/modules/status/{operation_id}/answer",
            json={"answer": chosen},
            headers=modules_headers,
        )
        assert answered.status_code == 200, answered.text
        final = await wait_operation(client, modules_headers, operation_id)
        assert final["status"] == "completed", final
        now = (await client.get("/modules/primary/app", headers=modules_headers)).json()
        assert now["instance_id"] == chosen
        gone = await client.get(f"/modules/instance/app/{primary}", headers=modules_headers)
        assert gone.status_code == 404

    async def test_new_primary_named_in_the_request_asks_nothing(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("app", "1.0.0"))
        for _ in range(3):
            await install(client, modules_headers, "app")
        (group,) = (await client.get("/modules/instances", headers=modules_headers)).json()[
            "modules"
        ]
        primary = group["primary_instance_id"]
        chosen = [i["instance_id"] for i in group["instances"] if i["instance_id"] != primary][-1]
        wrong = await client.delete(
            f"/modules/instance/app/{primary}?new_primary={primary}", headers=modules_headers
        )
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "new_primary"
        started = await client.delete(
            f"/modules/instance/app/{primary}?new_primary={chosen}", headers=modules_headers
        )
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        now = (await client.get("/modules/primary/app", headers=modules_headers)).json()
        assert now["instance_id"] == chosen

    async def test_with_one_other_instance_it_becomes_primary_without_a_question(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("app", "1.0.0"))
        for _ in range(2):
            await install(client, modules_headers, "app")
        (group,) = (await client.get("/modules/instances", headers=modules_headers)).json()[
            "modules"
        ]
        primary = group["primary_instance_id"]
        (other,) = [i["instance_id"] for i in group["instances"] if i["instance_id"] != primary]
        started = await client.delete(f"/modules/instance/app/{primary}", headers=modules_headers)
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        now = (await client.get("/modules/primary/app", headers=modules_headers)).json()
        assert now["instance_id"] == other
