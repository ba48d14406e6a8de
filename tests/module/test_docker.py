"""Docker runtimes against a real dockerd (Swarm services and plain containers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.reconcile.service import reconcile_service
from stellwerk.runtime import Runtime
from tests.module.conftest import DockerEngine
from tests.module.factories import RepositoryDir, archive_bytes, install, manifest, wait_operation

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_client(docker_runtime: DockerEngine) -> Iterator[Any]:
    client = docker.DockerClient(base_url=docker_runtime.host, timeout=60)
    yield client
    client.close()


def _container_module(name: str, version: str, image: str, command: list[str]) -> bytes:
    return archive_bytes(
        manifest(
            name,
            version,
            command=None,
            image=image,
            container_command=command,
            grace_seconds=1.0,
        ),
        {"VERSION": version.encode()},
    )


async def _instance(runtime: Runtime) -> Any:
    async with runtime.database.session() as session:
        (instance,) = await ModuleInstanceRepository(session).list()
    return instance


class TestSwarm:
    async def test_install_runs_a_swarm_service_and_delete_removes_it(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
        engine_client: Any,
    ) -> None:
        runtime.settings.module_runtime = "swarm"
        runtime.settings.module_network = "stwtest_modules"
        test_repository.add(
            "busy",
            "1.0.0",
            _container_module("busy", "1.0.0", docker_runtime.image, ["sleep", "600"]),
        )
        _, final = await install(client, modules_headers, "busy")
        assert final["status"] == "completed", final
        instance = await _instance(runtime)
        name = f"stellwerk_busy_{instance.id}"
        service = engine_client.services.get(name)
        spec = service.attrs["Spec"]
        assert spec["Labels"]["stellwerk.module"] == "busy"
        mounts = spec["TaskTemplate"]["ContainerSpec"]["Mounts"]
        directory = runtime.settings.resolved_modules_root / f"busy_{instance.id}"
        assert mounts[0]["Source"] == str(directory)
        assert mounts[0]["Target"] == "/module"
        network = engine_client.networks.get("stwtest_modules")
        assert network.attrs["Driver"] == "overlay"
        assert spec["TaskTemplate"]["Networks"][0]["Target"] == network.id
        env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
        assert f"MODULE_INSTANCE_ID={instance.id}" in env
        assert not [e for e in env if e.startswith("STELLWERK_") and "MODULE_UNIT" not in e]
        assert spec["TaskTemplate"]["ContainerSpec"]["User"] == "65534:65534"
        assert runtime.settings.data_dir.resolve() not in directory.parents

        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        shown = listing["modules"][0]["instances"][0]
        assert shown["status"] == "running"
        assert shown["path"] == f"/modules/busy_{instance.id}"

        deleted = await client.delete(
            f"/modules/instance/busy/{instance.id}", headers=modules_headers
        )
        assert deleted.status_code == 202
        final = await wait_operation(
            client, modules_headers, deleted.json()["operation_id"], timeout=180
        )
        assert final["status"] == "completed", final
        assert engine_client.services.list(filters={"name": name}) == []
        assert not directory.exists()

    async def test_an_unhealthy_swarm_update_rolls_back(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
        engine_client: Any,
    ) -> None:
        runtime.settings.module_runtime = "swarm"
        runtime.settings.module_network = "stwtest_modules"
        image = docker_runtime.image
        test_repository.add(
            "roll", "1.0.0", _container_module("roll", "1.0.0", image, ["sleep", "600"])
        )
        _, final = await install(client, modules_headers, "roll")
        assert final["status"] == "completed", final
        instance = await _instance(runtime)
        service = engine_client.services.get(f"stellwerk_roll_{instance.id}")
        task_before = [t["ID"] for t in service.tasks() if t["DesiredState"] == "running"]
        test_repository.add(
            "roll", "2.0.0", _container_module("roll", "2.0.0", image, ["sh", "-c", "exit 1"])
        )
        response = await client.post(
            "/modules/update",
            # 1.0.0 to 2.0.0 and to 3.0.0 cross a major version: go on without asking.
            json={"module_name": "roll", "answers": {"major_update": "continue"}},
            headers=modules_headers,
        )
        final = await wait_operation(
            client, modules_headers, response.json()["operation_id"], timeout=180
        )
        assert final["status"] == "failed", final
        assert "rolled back" in final["message"]
        service.reload()
        task_after = [t["ID"] for t in service.tasks() if t["DesiredState"] == "running"]
        assert task_after == task_before  # the old task never stopped
        shown = await client.get(f"/modules/instance/roll/{instance.id}", headers=modules_headers)
        assert shown.json()["version"] == "1.0.0"
        assert shown.json()["status"] == "running"
        # The candidate service is gone.
        names = [s.name for s in engine_client.services.list()]
        assert names == [f"stellwerk_roll_{instance.id}"]

        # A healthy version replaces the service under the same name.
        test_repository.add(
            "roll", "3.0.0", _container_module("roll", "3.0.0", image, ["sleep", "601"])
        )
        response = await client.post(
            "/modules/update",
            # 1.0.0 to 2.0.0 and to 3.0.0 cross a major version: go on without asking.
            json={"module_name": "roll", "answers": {"major_update": "continue"}},
            headers=modules_headers,
        )
        final = await wait_operation(
            client, modules_headers, response.json()["operation_id"], timeout=180
        )
        assert final["status"] == "completed", final
        service = engine_client.services.get(f"stellwerk_roll_{instance.id}")
        assert service.attrs["Spec"]["Labels"]["stellwerk.version"] == "3.0.0"
        assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Command"] == [
            "sleep",
            "601",
        ]
        shown = await client.get(f"/modules/instance/roll/{instance.id}", headers=modules_headers)
        assert shown.json()["version"] == "3.0.0"
        assert shown.json()["status"] == "running"


class TestContainers:
    async def test_a_containers_output_is_read_and_followed(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
    ) -> None:
        runtime.settings.module_runtime = "container"
        runtime.settings.module_network = "none"
        ticker = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
        test_repository.add(
            "talker",
            "1.0.0",
            _container_module("talker", "1.0.0", docker_runtime.image, ["sh", "-c", ticker]),
        )
        _, final = await install(client, modules_headers, "talker")
        assert final["status"] == "completed", final
        instance = await _instance(runtime)
        url = f"/modules/instance/talker/{instance.id}/logs"
        first = (await client.get(url, params={"lines": 2}, headers=modules_headers)).json()
        assert first["runtime"] == "container"
        assert len(first["lines"]) == 2
        numbers = [int(line.split()[1]) for line in first["lines"]]
        assert numbers[1] == numbers[0] + 1
        await asyncio.sleep(1.0)
        more = (
            await client.get(url, params={"after": first["cursor"]}, headers=modules_headers)
        ).json()
        following = [int(line.split()[1]) for line in more["lines"]]
        assert following
        assert following[0] == numbers[1] + 1
        assert following == list(range(following[0], following[0] + len(following)))

    async def test_install_and_delete_a_plain_container(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
        engine_client: Any,
    ) -> None:
        runtime.settings.module_runtime = "container"
        runtime.settings.module_network = "none"
        test_repository.add(
            "boxed",
            "1.0.0",
            _container_module(
                "boxed",
                "1.0.0",
                docker_runtime.image,
                ["sleep", "600"],
            ),
        )
        _, final = await install(client, modules_headers, "boxed")
        assert final["status"] == "completed", final
        instance = await _instance(runtime)
        container = engine_client.containers.get(f"stellwerk_boxed_{instance.id}")
        assert container.status == "running"
        exit_code, output = container.exec_run(["cat", "/module/VERSION"])
        assert (exit_code, output) == (0, b"1.0.0")  # the module directory is mounted
        assert container.attrs["Config"]["User"] == "65534:65534"  # nobody, not root
        assert "no-new-privileges" in container.attrs["HostConfig"]["SecurityOpt"]
        (mount,) = container.attrs["Mounts"]
        assert mount["RW"] is False
        assert runtime.settings.data_dir.resolve() not in Path(mount["Source"]).parents
        shown = await client.get(f"/modules/instance/boxed/{instance.id}", headers=modules_headers)
        assert shown.json()["status"] == "running"

        container.kill()
        for _ in range(50):
            status = (
                await client.get(f"/modules/instance/boxed/{instance.id}", headers=modules_headers)
            ).json()["status"]
            if status != "running":
                break
            await asyncio.sleep(0.1)
        assert status in ("stopped", "error")

        deleted = await client.delete(
            f"/modules/instance/boxed/{instance.id}", headers=modules_headers
        )
        final = await wait_operation(
            client, modules_headers, deleted.json()["operation_id"], timeout=180
        )
        assert final["status"] == "completed"
        assert (
            engine_client.containers.list(
                all=True, filters={"name": "stellwerk_boxed"}, sparse=True
            )
            == []
        )

    async def test_a_containers_frontend_opens_through_stellwerk(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
    ) -> None:
        """The proxy reaches a container at its address on the module network and `run.port`."""
        runtime.settings.module_runtime = "container"
        runtime.settings.module_network = "stwtest_web"
        served = manifest(
            "served",
            "1.0.0",
            command=None,
            image=docker_runtime.image,
            container_command=["busybox", "httpd", "-f", "-p", "8080", "-h", "/module"],
            grace_seconds=1.0,
        )
        served["run"]["port"] = 8080
        test_repository.add("served", "1.0.0", archive_bytes(served, {"VERSION": b"1.0.0"}))
        _, final = await install(client, modules_headers, "served")
        assert final["status"] == "completed", final
        page = None
        for _ in range(50):  # httpd may take a moment to listen
            page = await client.get("/served/VERSION", headers=modules_headers)
            if page.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert page is not None
        assert page.status_code == 200, page.text
        assert page.text == "1.0.0"

    async def test_a_module_without_an_image_is_refused(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        docker_runtime: DockerEngine,
    ) -> None:
        runtime.settings.module_runtime = "container"
        test_repository.add_module(manifest("noimage", "1.0.0"))
        _, final = await install(client, modules_headers, "noimage")
        assert final["status"] == "failed"
        assert "run.image" in final["message"]
        assert list(runtime.settings.resolved_modules_root.glob("noimage_*")) == []


class TestReconcile:
    async def test_stray_containers_and_services_are_reported(
        self, runtime: Runtime, docker_runtime: DockerEngine, engine_client: Any
    ) -> None:
        """Units of this installation that no instance refers to, in both Docker runtimes;
        another installation's units (another stack name) are not ours to report."""
        labels = {"stellwerk.unit": "stellwerk_ghost_1", "stellwerk.module": "ghost"}
        container = engine_client.containers.create(
            docker_runtime.image, ["sleep", "600"], name="stellwerk_ghost_1", labels=labels
        )
        other = engine_client.containers.create(
            docker_runtime.image,
            ["sleep", "600"],
            name="otherstack_ghost_2",
            labels={"stellwerk.unit": "otherstack_ghost_2"},
        )
        service = engine_client.services.create(
            docker_runtime.image,
            ["sleep", "600"],
            name="stellwerk_ghost_3",
            labels={"stellwerk.unit": "stellwerk_ghost_3"},
        )
        try:
            for configured in ("container", "swarm"):
                runtime.settings.module_runtime = configured
                async with runtime.database.session() as session:
                    report = await reconcile_service.report(session, runtime.settings)
                strays = [
                    (f.scope, f.subject)
                    for f in report.findings
                    if f.area == "modules" and f.kind == "orphan"
                ]
                expected = {"container": "stellwerk_ghost_1", "swarm": "stellwerk_ghost_3"}
                assert strays == [(configured, expected[configured])]
                assert not report.matches
        finally:
            service.remove()
            container.remove(force=True)
            other.remove(force=True)
