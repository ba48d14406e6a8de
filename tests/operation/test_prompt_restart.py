"""A question survives a restart: SIGKILL `stellwerk serve` while an operation waits for an
answer, start it again, and the operation still waits with the same question; answered from
the command line (a process that runs no workflows), it goes on to the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.process import ServeProcess, base_env, run_cli

pytestmark = pytest.mark.slow

ADMIN = ("prompt-admin", "prompt-admin-password")


def _operation(server: ServeProcess, headers: dict[str, str], operation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/operations/{operation_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_for(
    server: ServeProcess, headers: dict[str, str], operation_id: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _operation(server, headers, operation_id)
        if body["status"] == status:
            return body
        time.sleep(0.1)
    raise AssertionError(f"never {status}: {body}\n{server.log()[-3000:]}")


def test_a_waiting_operation_keeps_its_question_across_a_kill(tmp_path: Path) -> None:
    env = base_env(tmp_path / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    server = ServeProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        login = httpx.post(
            f"{server.url}/api/auth/login",
            json={"username": ADMIN[0], "password": ADMIN[1]},
            timeout=10,
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = httpx.post(
            f"{server.url}/api/operations/probe",
            json={"steps": 2, "seconds": 0, "ask": True},
            headers=headers,
            timeout=10,
        )
        assert started.status_code == 202, started.text
        operation_id = started.json()["id"]
        before = _wait_for(server, headers, operation_id, "waiting")
        server.kill()

        server.start()
        after = _operation(server, headers, operation_id)
        assert after["status"] == "waiting"
        assert after["prompts"] == before["prompts"]

        answered = run_cli("ops", "answer", operation_id, "continue", env=env)
        assert answered.returncode == 0, answered.stderr
        done = _wait_for(server, headers, operation_id, "completed")
        assert done["result"] == {"steps": 2}
        asked = [e for e in done["events"] if e["status"] == "waiting"]
        assert len(asked) == 1  # asked once, not again after the restart
    finally:
        server.stop()
