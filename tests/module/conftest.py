"""Module manager fixtures: scoped credentials, test repositories, and a clean modules root."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from fastapi import FastAPI

from stellwerk.models import ModuleInstance
from stellwerk.module import workflow
from stellwerk.module.repository import ModuleInstanceRepository, ModuleOperationRepository
from stellwerk.module.runtimes import runtime_for
from stellwerk.module.service import module_repository
from stellwerk.module.sources import index_cache
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for
from tests.module.factories import RepositoryDir, register_repository
from tests.process import free_port


async def _stop_everything(runtime: Runtime) -> None:
    """Let module operations finish, stop every unit, and empty the modules root."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with runtime.database.session() as session:
            if not await ModuleOperationRepository(session).active(workflow.KINDS):
                break
        await asyncio.sleep(0.2)
    async with runtime.database.session() as session:
        instances: list[ModuleInstance] = list(await ModuleInstanceRepository(session).list())
    for instance in instances:
        with contextlib.suppress(Exception):  # best effort between tests
            await runtime_for(instance.runtime, runtime.settings).stop(instance.unit_name)
    shutil.rmtree(runtime.settings.resolved_modules_root, ignore_errors=True)


@pytest_asyncio.fixture(autouse=True)
async def _modules_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if "app" not in request.fixturenames:
        yield
        return
    app: FastAPI = request.getfixturevalue("app")
    runtime: Runtime = app.state.runtime
    async with runtime.database.session() as session:
        await module_repository.ensure_builtin(session)
    yield
    await _stop_everything(runtime)
    for key in list(index_cache._entries):
        del index_cache._entries[key]


@pytest_asyncio.fixture
async def modules_headers(runtime: Runtime) -> dict[str, str]:
    """An admin's login (modules run code on the host: managing them is admin work); a login
    has no per-token rate limit while tests poll."""
    return bearer(jwt_for(runtime, await create_admin(runtime)))


@pytest_asyncio.fixture
async def token_headers(runtime: Runtime) -> dict[str, str]:
    """An admin's API token with read:modules and write:modules, as the curl examples use."""
    admin = await create_admin(runtime)
    return bearer(await create_token(runtime, admin, ["read:modules", "write:modules"]))


@pytest_asyncio.fixture
async def admin_headers(runtime: Runtime) -> dict[str, str]:
    return bearer(jwt_for(runtime, await create_admin(runtime)))


@pytest_asyncio.fixture
async def user_headers(runtime: Runtime) -> dict[str, str]:
    """A user who is not an admin (a login)."""
    return bearer(jwt_for(runtime, await create_user(runtime)))


@pytest_asyncio.fixture
async def test_repository(runtime: Runtime, tmp_path: Path) -> RepositoryDir:
    """An empty file repository `test-repo`, registered ahead of the built-in one."""
    directory = RepositoryDir(tmp_path / "repo")
    directory.write_index()
    await register_repository(runtime, "test-repo", str(directory.root))
    return directory


@dataclass(frozen=True)
class DockerEngine:
    host: str
    image: str


def _busybox_rootfs(directory: Path) -> Path:
    """A tiny image: busybox and a few applets, as a rootfs tarball (there is no registry)."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (Debian busybox-static)")
    rootfs = directory / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(busybox, rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep", "echo", "cat", "ls", "true", "false"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    archive = directory / "busybox.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    return archive


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A private dockerd in Swarm mode on a unix socket, with a locally imported busybox image.

    Started without touching iptables or creating docker0; stopped by pid, and the
    `docker_gwbridge` it creates is removed again.
    """
    import docker

    dockerd = shutil.which("dockerd")
    if dockerd is None:
        pytest.skip("dockerd is not installed (Debian docker.io)")
    directory = Path(tempfile.mkdtemp(prefix="stw-dockerd-"))  # short: unix socket paths
    archive = _busybox_rootfs(directory)
    gwbridge_existed = Path("/sys/class/net/docker_gwbridge").exists()
    socket_path = directory / "docker.sock"
    log = (directory / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [
            dockerd,
            "--data-root",
            str(directory / "data"),
            "--exec-root",
            str(directory / "exec"),
            "--pidfile",
            str(directory / "dockerd.pid"),
            "-H",
            f"unix://{socket_path}",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"unix://{socket_path}"
    client = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if socket_path.exists():
                try:
                    client = docker.DockerClient(base_url=host, timeout=60)
                    client.ping()
                    break
                except Exception:
                    client = None
            time.sleep(0.2)
        if client is None:
            reason = (directory / "dockerd.log").read_text(errors="replace")[-500:]
            pytest.skip(f"dockerd could not start on this machine: {reason}")
        client.api.import_image_from_file(
            str(archive), repository="e2e/busybox", tag="local", changes=['CMD ["/bin/sh"]']
        )
        swarm_port = free_port()
        client.swarm.init(
            advertise_addr="127.0.0.1",
            listen_addr=f"127.0.0.1:{swarm_port}",
            force_new_cluster=False,
        )
        yield DockerEngine(host=host, image="e2e/busybox:local")
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                for service in client.services.list():
                    service.remove()
                for container in client.containers.list(all=True, ignore_removed=True):
                    container.remove(force=True)
                for network in client.networks.list(filters={"label": "stellwerk"}):
                    network.remove()  # also removes the Linux bridge of a bridge network
                client.swarm.leave(force=True)
            client.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        if not gwbridge_existed and Path("/sys/class/net/docker_gwbridge").exists():
            subprocess.run(["ip", "link", "del", "docker_gwbridge"], check=False, timeout=30)
        subprocess.run(["umount", "-R", str(directory / "exec")], check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def docker_runtime(
    runtime: Runtime, docker_engine: DockerEngine
) -> AsyncIterator[DockerEngine]:
    """Point the running app's module settings at the private dockerd, and back afterwards."""
    settings = runtime.settings
    saved = (settings.module_runtime, settings.module_docker_host, settings.module_network)
    settings.module_docker_host = docker_engine.host
    yield docker_engine
    await _stop_everything(runtime)  # while the settings still name this engine
    settings.module_runtime, settings.module_docker_host, settings.module_network = saved
