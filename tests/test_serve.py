"""Stellwerk as a process: the CLI, first start, crash recovery of operations, and secrets."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database
from tests.process import ServeProcess, base_env, database_bytes, run_cli

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "process-admin-password"


@pytest_asyncio.fixture
async def serve_env(backend: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    database_url = None
    name = f"stellwerk_proc_{uuid.uuid4().hex[:8]}"
    if backend == "postgresql":
        await _recreate_database(name)
        database_url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    env = base_env(tmp_path / "var", database_url)
    env["STELLWERK_ADMIN_USERNAME"] = "root-admin"
    env["STELLWERK_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    yield env
    if backend == "postgresql":
        await _drop_database(name)


@pytest.fixture
def server(serve_env: dict[str, str], tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(serve_env, tmp_path / "serve.log")
    process.start()
    yield process
    process.stop()


def login(server: ServeProcess) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": "root-admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_cli_token_scopes_and_revocation(server: ServeProcess, serve_env: dict[str, str]) -> None:
    created = run_cli("token", "create", "--scope", "read:domains", "--json", env=serve_env)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/api/auth/me", headers=headers).status_code == 200
    forbidden = httpx.get(f"{server.url}/api/admin/users", headers=headers)
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": "admin",
        "detail": "This credential lacks the scope admin",
    }
    listed = run_cli("token", "list", "--json", env=serve_env)
    token_id = json.loads(listed.stdout)[0]["id"]
    assert token not in listed.stdout
    revoked = run_cli("token", "revoke", str(token_id), env=serve_env)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{server.url}/api/auth/me", headers=headers).status_code == 401
    unknown = {"Authorization": "Bearer nrx_" + "0" * 64}
    assert httpx.get(f"{server.url}/api/auth/me", headers=unknown).status_code == 401


def test_cli_admin_create_and_apikey_rotate(
    server: ServeProcess, serve_env: dict[str, str]
) -> None:
    created = run_cli(
        "admin",
        "create",
        "--username",
        "second",
        "--password-stdin",
        "--json",
        env=serve_env,
        stdin="second-admin-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["role"] == "admin"
    rotated = run_cli("apikey", "rotate", "--json", env=serve_env)
    key = json.loads(rotated.stdout)["api_key"]
    assert key.startswith("AF-")
    short = run_cli(
        "admin", "create", "--username", "third", "--password-stdin", env=serve_env, stdin="short\n"
    )
    assert short.returncode == 1
    assert "at least" in short.stderr


def test_sigkill_mid_operation_resumes_without_repeating_steps(
    server: ServeProcess,
) -> None:
    headers = login(server)
    started = httpx.post(
        f"{server.url}/api/operations/probe",
        json={"steps": 3, "seconds": 2.0},
        headers=headers,
        timeout=10,
    )
    operation_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/api/operations/{operation_id}", headers=headers).json()
        if any(e["step"] == "step-2" for e in body["events"]):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"step 2 never finished: {server.log()[-2000:]}")
    server.kill()  # now inside step 3
    server.start()
    headers = login(server)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/api/operations/{operation_id}", headers=headers).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert body["status"] == "completed", body
    ran = [e["step"] for e in body["events"] if (e["step"] or "").startswith("probe-")]
    assert ran.count("probe-1") == 1
    assert ran.count("probe-2") == 1
    assert ran.count("probe-3") >= 1


def test_no_secret_reaches_a_response_or_log_line(
    server: ServeProcess, serve_env: dict[str, str]
) -> None:
    headers = login(server)
    token = httpx.post(
        f"{server.url}/api/tokens", json={"name": "s", "scopes": ["admin"]}, headers=headers
    ).json()["token"]
    api_key = httpx.post(f"{server.url}/api/admin/api-key/rotate", headers=headers).json()[
        "api_key"
    ]
    token_headers = {"Authorization": f"Bearer {token}"}
    bodies = []
    for path in (
        "/api/tokens",
        "/api/admin/users",
        "/api/admin/audit",
        "/status",
        "/",
        "/api/auth/me",
    ):
        bodies.append(httpx.get(f"{server.url}{path}", headers=token_headers).text)
    httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": "root-admin", "password": "wrong-password"},
    )
    server.stop()
    secrets = [
        ADMIN_PASSWORD,
        token,
        api_key,
        headers["Authorization"].split()[1],
        "wrong-password",
    ]
    log = server.log()
    for secret in secrets:
        assert secret not in log
        for body in bodies:
            assert secret not in body
    # Stored only as hashes: the database holds none of them either.
    stored = database_bytes(serve_env)
    for secret in secrets:
        assert secret.encode() not in stored
