"""SIGKILL `stellwerk serve` while a server is being created, after the provider made it but
before its answer arrived; start it again: the creation completes with exactly one server, and
`stellwerk reconcile` finds nothing amiss."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.process import ServeProcess, base_env, free_sandbox_base_port, run_cli
from tests.server.factories import HETZNER_BODY

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "crash-admin-password"
TOKEN = "sandbox-crash-token"
HETZNER_OFFSET = 3


@pytest.fixture
def serve_env(tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path / "var")
    env["STELLWERK_SANDBOX_PORT"] = str(free_sandbox_base_port())
    env["STELLWERK_SANDBOX_PROVISION_SECONDS"] = "1"
    env["STELLWERK_ADMIN_USERNAME"] = "root-admin"
    env["STELLWERK_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    return env


def login(server: ServeProcess) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": "root-admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(check: Any, what: str, server: ServeProcess, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen: {server.log()[-3000:]}")


def test_sigkill_after_the_provider_made_the_server(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    hetzner = f"http://127.0.0.1:{int(serve_env['STELLWERK_SANDBOX_PORT']) + HETZNER_OFFSET}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def servers() -> list[dict[str, Any]]:
        answer = httpx.get(f"{hetzner}/v1/servers", headers=auth, timeout=10).json()
        return list(answer["servers"])

    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        headers = login(server)
        # Only the provider made here: the sandbox providers of a first start go.
        listed = httpx.get(f"{server.url}/api/admin/providers", headers=headers, timeout=30)
        for provider in listed.json()["providers"]:
            httpx.delete(
                f"{server.url}/api/admin/providers/{provider['id']}", headers=headers, timeout=30
            ).raise_for_status()
        created = httpx.post(
            f"{server.url}/api/admin/providers",
            headers=headers,
            json={
                "name": "Hetzner",
                "type": "hetzner",
                "api_key": TOKEN,
                "configuration": {"api_url": f"{hetzner}/v1"},
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        # Hetzner makes the server, then its answer hangs until the process is gone.
        fault = {"kind": "timeout", "count": 1, "delay": 120, "method": "POST"}
        httpx.post(
            f"{hetzner}/__sandbox__/faults",
            json={**fault, "path": "/v1/servers", "after_write": True},
            timeout=10,
        )
        body = {**HETZNER_BODY, "provider_id": created.json()["provider"]["id"]}
        response = httpx.post(f"{server.url}/api/vps", headers=headers, json=body, timeout=30)
        assert response.status_code == 201, response.text
        instance = response.json()["instance"]
        wait_for(servers, "the server at Hetzner", server)
        server.kill()

        server.start()
        headers = login(server)

        def finished() -> dict[str, Any] | None:
            operation: dict[str, Any] = httpx.get(
                f"{server.url}/api/operations/{instance['operation_id']}",
                headers=headers,
                timeout=10,
            ).json()
            return operation if operation["status"] not in ("queued", "running") else None

        operation = wait_for(finished, "the creation's end", server)
        assert operation["status"] == "completed", (operation, server.log()[-3000:])
        (made,) = servers()
        assert made["labels"]["stellwerk-instance"] == instance["id"]
        detail = httpx.get(
            f"{server.url}/api/vps/{instance['id']}", headers=headers, timeout=10
        ).json()["instance"]
        assert detail["provider_instance_id"] == str(made["id"])
        assert detail["status"] == "running"

        report = run_cli("reconcile", "--json", env=serve_env)
        assert report.returncode == 0, (report.stdout, report.stderr)
        assert json.loads(report.stdout)["checked"]["servers"] == {"Hetzner (hetzner)": 1}
    finally:
        server.stop()
