"""Stopping, starting and restarting an instance, with its status following."""

from __future__ import annotations

from pathlib import Path

import httpx

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_staff, jwt_for
from tests.module.factories import RepositoryDir, install, manifest, wait_operation


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def _pid(runtime: Runtime) -> int | None:
    async with runtime.database.session() as session:
        (instance,) = await ModuleInstanceRepository(session).list()
    pid = instance.runtime_state.get("pid")
    return int(pid) if pid else None


class TestLifecycle:
    async def test_stop_start_and_restart(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("app", "1.0.0"))
        _, final = await install(client, modules_headers, "app")
        assert final["status"] == "completed", final
        primary = await client.get("/modules/primary/app", headers=modules_headers)
        instance_id = primary.json()["instance_id"]
        url = f"/modules/instance/app/{instance_id}"
        first_pid = await _pid(runtime)
        assert first_pid
        assert _alive(first_pid)

        stopped = await client.post(f"{url}/stop", headers=modules_headers)
        assert stopped.status_code == 202, stopped.text
        assert stopped.json()["status"] == "queued"
        final = await wait_operation(client, modules_headers, stopped.json()["operation_id"])
        assert final["status"] == "completed", final
        assert (await client.get(url, headers=modules_headers)).json()["status"] == "stopped"
        assert not _alive(first_pid)

        started = await client.post(f"{url}/start", headers=modules_headers)
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        assert (await client.get(url, headers=modules_headers)).json()["status"] == "running"
        second_pid = await _pid(runtime)
        assert second_pid
        assert second_pid != first_pid
        assert _alive(second_pid)

        restarted = await client.post(f"{url}/restart", headers=modules_headers)
        final = await wait_operation(client, modules_headers, restarted.json()["operation_id"])
        assert final["status"] == "completed", final
        third_pid = await _pid(runtime)
        assert third_pid
        assert third_pid != second_pid
        assert _alive(third_pid)
        assert not _alive(second_pid)
        assert (await client.get(url, headers=modules_headers)).json()["status"] == "running"

        missing = await client.post(
            f"/modules/instance/app/{'0' * 32}/stop", headers=modules_headers
        )
        assert missing.status_code == 404

    async def test_a_reader_cannot_stop_an_instance(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
    ) -> None:
        staff = bearer(jwt_for(runtime, await create_staff(runtime)))
        refused = await client.post(f"/modules/instance/app/{'0' * 32}/stop", headers=staff)
        assert refused.status_code == 403


async def test_an_update_keeps_a_stopped_instance_stopped(
    client: httpx.AsyncClient,
    modules_headers: dict[str, str],
    test_repository: RepositoryDir,
    runtime: Runtime,
) -> None:
    test_repository.add_module(manifest("app", "1.0.0"))
    await install(client, modules_headers, "app")
    instance_id = (await client.get("/modules/primary/app", headers=modules_headers)).json()[
        "instance_id"
    ]
    stopped = await client.post(
        f"/modules/instance/app/{instance_id}/stop", headers=modules_headers
    )
    await wait_operation(client, modules_headers, stopped.json()["operation_id"])
    test_repository.add_module(manifest("app", "1.1.0"))
    updated = await client.post(
        "/modules/update", json={"module_name": "app"}, headers=modules_headers
    )
    final = await wait_operation(client, modules_headers, updated.json()["operation_id"])
    assert final["status"] == "completed", final
    shown = (
        await client.get(f"/modules/instance/app/{instance_id}", headers=modules_headers)
    ).json()
    assert (shown["version"], shown["status"]) == ("1.1.0", "stopped")
