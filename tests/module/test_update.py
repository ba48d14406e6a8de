"""Updates: the old version runs until the new one is healthy; unhealthy updates roll back."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import orjson

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.module.factories import (
    CRASHER,
    RepositoryDir,
    archive_bytes,
    install,
    manifest,
    wait_operation,
)


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def _only_instance(runtime: Runtime) -> tuple[str, int, str]:
    async with runtime.database.session() as session:
        (instance,) = await ModuleInstanceRepository(session).list()
    return instance.id, int(instance.runtime_state["pid"]), instance.version


def _release(name: str, version: str, **options: object) -> bytes:
    return archive_bytes(
        manifest(name, version, **options),  # type: ignore[arg-type]
        {"VERSION": version.encode()},
    )


class TestUpdate:
    async def test_update_switches_to_the_new_version(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add("app", "1.0.0", _release("app", "1.0.0"))
        _, final = await install(client, modules_headers, "app")
        assert final["status"] == "completed", final
        instance_id, old_pid, _ = await _only_instance(runtime)
        test_repository.add("app", "1.1.0", _release("app", "1.1.0"))

        response = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        assert response.status_code == 202, response.text
        final = await wait_operation(client, modules_headers, response.json()["operation_id"])
        assert final["status"] == "completed", final

        _, new_pid, version = await _only_instance(runtime)
        assert version == "1.1.0"
        assert new_pid != old_pid
        assert _pid_alive(new_pid)
        assert not _pid_alive(old_pid)
        directory = runtime.settings.resolved_modules_root / f"app_{instance_id}"
        assert (directory / "VERSION").read_text() == "1.1.0"
        assert json.loads((directory / "module.json").read_text())["version"] == "1.1.0"
        shown = await client.get(f"/modules/instance/app/{instance_id}", headers=modules_headers)
        assert shown.json()["version"] == "1.1.0"
        assert shown.json()["status"] == "running"
        again = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "up_to_date"

    async def test_an_unhealthy_update_rolls_back_and_the_old_one_keeps_running(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add("app", "1.0.0", _release("app", "1.0.0"))
        _, final = await install(client, modules_headers, "app")
        instance_id, old_pid, _ = await _only_instance(runtime)
        test_repository.add("app", "2.0.0", _release("app", "2.0.0", command=CRASHER))

        response = await client.post(
            "/modules/update",
            json={
                "module_name": "app",
                "instance_id": instance_id,
                "version": "2.0.0",
                "answers": {"major_update": "continue"},  # across a major version
            },
            headers=modules_headers,
        )
        assert response.status_code == 202, response.text
        final = await wait_operation(client, modules_headers, response.json()["operation_id"])
        assert final["status"] == "failed"
        assert "rolled back" in final["message"]

        _, pid, version = await _only_instance(runtime)
        assert version == "1.0.0"
        assert pid == old_pid
        assert _pid_alive(old_pid)
        directory = runtime.settings.resolved_modules_root / f"app_{instance_id}"
        assert (directory / "VERSION").read_text() == "1.0.0"
        shown = await client.get(f"/modules/instance/app/{instance_id}", headers=modules_headers)
        assert shown.json()["status"] == "running"
        assert shown.json()["version"] == "1.0.0"
        root = runtime.settings.resolved_modules_root
        assert list((root / ".staging").iterdir()) == []
        assert list((root / ".previous").iterdir()) == []

    async def test_update_validation(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        missing = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        assert missing.status_code == 404
        bad = await client.post(
            "/modules/update",
            json={"module_name": "app", "instance_id": "XYZ"},
            headers=modules_headers,
        )
        assert bad.status_code == 422


class TestFeed:
    async def test_events_stream_until_the_operation_finishes(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        started = await client.post(
            "/modules/install-instance",
            json={"module_name": "v2_dashboard"},
            headers=modules_headers,
        )
        operation_id = started.json()["operation_id"]
        response = await client.get(
            f"/modules/events?operation_id={operation_id}", headers=modules_headers, timeout=60
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            orjson.loads(line.removeprefix("data: "))
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        assert events, response.text
        assert {e["operation_id"] for e in events} == {operation_id}
        assert events[-1]["status"] == "completed"
        assert events[-1]["progress"] == 100
        progress = [e["progress"] for e in events]
        assert progress == sorted(progress)
        unknown = await client.get(
            "/modules/events?operation_id=00000000-0000-0000-0000-000000000000",
            headers=modules_headers,
        )
        assert unknown.status_code == 404


class TestHealthAndCancel:
    async def test_a_failing_health_command_fails_the_install(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        sick = manifest("sick", "1.0.0")
        sick["health"]["command"] = ["{python}", "-c", "import sys; sys.exit(1)"]
        well = manifest("well", "1.0.0")
        well["health"]["command"] = ["{python}", "-c", "import os; assert os.environ['PORT']"]
        test_repository.add_module(sick)
        test_repository.add_module(well)
        _, final = await install(client, modules_headers, "sick")
        assert final["status"] == "failed"
        assert "health command" in final["message"]
        assert list(runtime.settings.resolved_modules_root.glob("sick_*")) == []
        _, final = await install(client, modules_headers, "well")
        assert final["status"] == "completed", final

    async def test_cancelling_an_install(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("slow", "1.0.0", grace_seconds=5.0))
        started = await client.post(
            "/modules/install-instance", json={"module_name": "slow"}, headers=modules_headers
        )
        operation_id = started.json()["operation_id"]
        cancelled = await client.post(
            f"/api/operations/{operation_id}/cancel", headers=modules_headers
        )
        assert cancelled.status_code == 200, cancelled.text
        final = await wait_operation(client, modules_headers, operation_id)
        assert final["status"] == "cancelled"
        assert final["status_url"] == f"/modules/status/{operation_id}"
