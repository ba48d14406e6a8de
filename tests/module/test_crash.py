"""SIGKILL `stellwerk serve` during a module install, and twice during its update (while the
candidate runs beside the old version, then while the instance switches over), starting it again
each time: both operations end, one instance runs one unit, and `stellwerk reconcile` finds
nothing amiss (no candidate left running, no unit without an instance)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import modules_dir
from tests.module.factories import RepositoryDir, manifest
from tests.process import ServeProcess, base_env, run_cli

pytestmark = pytest.mark.slow

ADMIN = ("crash-admin", "crash-admin-password")


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = base_env(tmp_path / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_MODULES_DIR"] = str(modules_dir())
    yield env
    shutil.rmtree(env["STELLWERK_MODULES_DIR"], ignore_errors=True)


def _kill_module_processes(modules_root: Path) -> None:
    """Module processes outlive Stellwerk by design; the test stops them by their pid files."""
    for pid_file in (modules_root / ".run").glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.killpg(int(json.loads(pid_file.read_text())["pid"]), signal.SIGKILL)


def _login(server: ServeProcess) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _status(server: ServeProcess, headers: dict[str, str], operation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/modules/status/{operation_id}", headers=headers, timeout=10)
    body: dict[str, Any] = response.json()
    return body


def _start(server: ServeProcess, headers: dict[str, str], path: str) -> str:
    response = httpx.post(
        f"{server.url}/modules/{path}", json={"module_name": "app"}, headers=headers, timeout=10
    )
    assert response.status_code == 202, response.text
    return str(response.json()["operation_id"])


def _kill_when(server: ServeProcess, headers: dict[str, str], operation_id: str, seen: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = _status(server, headers, operation_id)
        if seen(body):
            server.kill()
            return
        assert body["status"] not in ("completed", "failed", "cancelled"), body
        time.sleep(0.05)
    raise AssertionError(f"never reached the kill point: {server.log()[-3000:]}")


def _finish(server: ServeProcess, operation_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    server.start()
    headers = _login(server)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = _status(server, headers, operation_id)
        if body["status"] in ("completed", "failed", "cancelled"):
            return headers, body
        time.sleep(0.2)
    raise AssertionError(f"operation {operation_id} is still {body}: {server.log()[-3000:]}")


def test_sigkill_during_install_and_update(serve_env: dict[str, str], tmp_path: Path) -> None:
    modules_root = Path(serve_env["STELLWERK_MODULES_DIR"])
    repository = RepositoryDir(tmp_path / "repo")
    repository.add_module(manifest("app", "1.0.0", grace_seconds=1.5))
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        headers = _login(server)
        registered = httpx.post(
            f"{server.url}/repository/repositories",
            json={"id": "crash", "name": "Crash", "type": "file", "url": str(repository.root)},
            headers=headers,
            timeout=10,
        )
        assert registered.status_code == 201, registered.text

        installing = _start(server, headers, "install-instance")
        # Killed while the new unit proves itself healthy.
        _kill_when(server, headers, installing, lambda body: body["progress"] >= 65)
        headers, installed = _finish(server, installing)
        assert installed["status"] == "completed", (installed, server.log()[-3000:])

        repository.add_module(manifest("app", "1.1.0", grace_seconds=2.0))
        updating = _start(server, headers, "update")
        _kill_when(server, headers, updating, lambda body: "beside instance" in body["message"])
        server.start()
        headers = _login(server)
        _kill_when(server, headers, updating, lambda body: "Switching" in body["message"])
        headers, updated = _finish(server, updating)
        assert updated["status"] in ("completed", "failed"), updated

        listing = httpx.get(f"{server.url}/modules/instances", headers=headers, timeout=10).json()
        (group,) = listing["modules"]
        (instance,) = group["instances"]
        assert instance["status"] == "running"
        expected = "1.1.0" if updated["status"] == "completed" else "1.0.0"
        assert instance["version"] == expected, (updated, instance)
        assert sorted(p.name for p in modules_root.glob("app_*")) == [
            f"app_{instance['instance_id']}"
        ]

        report = run_cli("reconcile", "--json", env=serve_env)
        assert report.returncode == 0, (report.stdout, report.stderr)
        assert json.loads(report.stdout)["checked"]["modules"] == {"process": 1}
    finally:
        server.stop()
        _kill_module_processes(modules_root)
