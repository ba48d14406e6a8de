"""Stellwerk as a real process: a kill in the middle of an install, and the `modules` CLI."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database, modules_dir
from tests.module.factories import RepositoryDir, manifest
from tests.process import ServeProcess, base_env, run_cli

pytestmark = pytest.mark.slow

ADMIN = ("crash-admin", "crash-admin-password")


@pytest_asyncio.fixture
async def serve_env(backend: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    database_url = None
    name = f"stellwerk_mod_{uuid.uuid4().hex[:8]}"
    if backend == "postgresql":
        await _recreate_database(name)
        database_url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    env = base_env(tmp_path / "var", database_url)
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_MODULES_DIR"] = str(modules_dir())
    yield env
    shutil.rmtree(env["STELLWERK_MODULES_DIR"], ignore_errors=True)
    if backend == "postgresql":
        await _drop_database(name)


def _kill_module_processes(modules_root: Path) -> None:
    """Module processes outlive Stellwerk by design; the test stops them by their pid files."""
    for pid_file in (modules_root / ".run").glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.killpg(int(json.loads(pid_file.read_text())["pid"]), signal.SIGKILL)


@pytest.fixture
def server(serve_env: dict[str, str], tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(serve_env, tmp_path / "serve.log")
    process.start()
    yield process
    process.stop()
    _kill_module_processes(Path(serve_env["STELLWERK_MODULES_DIR"]))


def _login(server: ServeProcess) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _wait(server: ServeProcess, headers: dict[str, str], operation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{server.url}/modules/status/{operation_id}", headers=headers, timeout=10
        )
        body = response.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"operation did not finish: {body}\n{server.log()[-3000:]}")


def _add_repository(server: ServeProcess, headers: dict[str, str], root: Path) -> None:
    repository = RepositoryDir(root)
    repository.add_module(manifest("slow_start", "1.0.0", grace_seconds=4.0))
    created = httpx.post(
        f"{server.url}/repository/repositories",
        json={"id": "crash-repo", "name": "Crash", "type": "file", "url": str(root), "priority": 1},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("kill_at", [40, 65])
def test_killed_during_install_leaves_a_complete_instance_or_none(
    server: ServeProcess, serve_env: dict[str, str], tmp_path: Path, kill_at: int
) -> None:
    headers = _login(server)
    _add_repository(server, headers, tmp_path / "repo")
    response = httpx.post(
        f"{server.url}/modules/install-instance",
        json={"module_name": "slow_start"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    operation_id = response.json()["operation_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = httpx.get(
            f"{server.url}/modules/status/{operation_id}", headers=headers, timeout=10
        ).json()
        if status["progress"] >= kill_at or status["status"] in ("completed", "failed"):
            break
        time.sleep(0.02)
    server.kill()

    server.start()
    headers = _login(server)
    final = _wait(server, headers, operation_id)
    modules_root = Path(serve_env["STELLWERK_MODULES_DIR"])
    listing = httpx.get(f"{server.url}/modules/instances", headers=headers, timeout=10).json()
    directories = sorted(p.name for p in modules_root.glob("slow_start_*"))
    if final["status"] == "completed":
        (group,) = listing["modules"]
        (instance,) = group["instances"]
        assert instance["status"] == "running"
        assert directories == [f"slow_start_{instance['instance_id']}"]
        directory = modules_root / directories[0]
        assert json.loads((directory / "module.json").read_text())["name"] == "slow_start"
        assert (directory / "README").read_text() == "test module\n"
    else:
        assert listing["total"] == 0
        assert directories == []
    assert list((modules_root / ".staging").iterdir()) == []


def test_modules_cli(server: ServeProcess, serve_env: dict[str, str]) -> None:
    listed = run_cli("modules", "list", "--json", env=serve_env)
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)["modules"]] == ["v2_dashboard"]
    table = run_cli("modules", "list", env=serve_env)
    assert "v2_dashboard" in table.stdout

    installed = run_cli("modules", "install", "v2_dashboard", "--json", env=serve_env)
    assert installed.returncode == 0, installed.stderr + installed.stdout
    result = json.loads(installed.stdout)
    assert result["status"] == "completed"
    assert result["status_url"] == f"/modules/status/{result['operation_id']}"

    instances = run_cli("modules", "instances", "--json", env=serve_env)
    (group,) = json.loads(instances.stdout)["modules"]
    (instance,) = group["instances"]
    assert instance["status"] == "running"
    shown = run_cli("modules", "instances", env={**serve_env, "COLUMNS": "200"})
    assert instance["instance_id"] in shown.stdout

    bad = run_cli("modules", "remove", "v2_dashboard", "nothex", env=serve_env)
    assert bad.returncode == 1
    assert "instance id" in bad.stderr
    removed = run_cli("modules", "remove", "v2_dashboard", instance["instance_id"], env=serve_env)
    assert removed.returncode == 0, removed.stderr
    assert "completed" in removed.stderr
    instances = run_cli("modules", "instances", "--json", env=serve_env)
    assert json.loads(instances.stdout) == {"modules": [], "total": 0}
    missing = run_cli("modules", "install", "nope", env=serve_env)
    assert missing.returncode == 1
    assert "not in any enabled repository" in missing.stderr

    pins = run_cli("modules", "pins", "--json", env=serve_env)
    assert pins.returncode == 0, pins.stderr
    (pin,) = json.loads(pins.stdout)
    assert (pin["repository_id"], pin["module_name"], pin["version"]) == (
        "local-module-repository",
        "v2_dashboard",
        "0.1.0",
    )
    unpinned = run_cli(
        "modules", "unpin", "local-module-repository", "v2_dashboard", "0.1.0", env=serve_env
    )
    assert unpinned.returncode == 0, unpinned.stderr
    assert pin["sha256"] in unpinned.stderr + unpinned.stdout
