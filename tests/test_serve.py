"""Stellwerk as a process: the CLI, first start, crash recovery of operations, and secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from stellwerk.config import to_async_url
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
    env["STELLWERK_REDIRECT_WORKERS"] = "2"
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


def _start_probe(server: ServeProcess, headers: dict[str, str]) -> str:
    """A probe operation of three 2 s steps; its id."""
    started = httpx.post(
        f"{server.url}/api/operations/probe",
        json={"steps": 3, "seconds": 2.0},
        headers=headers,
        timeout=10,
    )
    operation_id: str = started.json()["id"]
    return operation_id


def _completed_without_repeats(body: dict[str, Any]) -> list[str]:
    """The probe completed, its first two steps once each (killed in the third); its steps."""
    assert body["status"] == "completed", body
    ran = [e["step"] for e in body["events"] if (e["step"] or "").startswith("probe-")]
    assert ran.count("probe-1") == 1
    assert ran.count("probe-2") == 1
    return ran


def test_sigkill_mid_operation_resumes_without_repeating_steps(
    server: ServeProcess,
) -> None:
    headers = login(server)
    operation_id = _start_probe(server, headers)
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
    ran = _completed_without_repeats(body)
    assert ran.count("probe-3") >= 1


def test_the_workflow_worker_is_a_process_of_its_own_and_is_replaced_when_it_dies(
    server: ServeProcess,
) -> None:
    """The API process runs no workflow (the engine's threads would stall its event loop); the
    workflow worker, killed inside a step, is started again and goes on from that step."""
    assert server.process is not None
    master = server.process.pid
    headers = login(server)
    assert len(_children(master, "stellwerk-api")) == 1
    _wait_until(lambda: len(_children(master, "workflow-worker")) == 1, 30, "the worker")
    (worker,) = _children(master, "workflow-worker")

    def status() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{server.url}/status", headers=headers).json()
        return body

    assert status()["workers"]["running"] is False  # not in the API process
    _wait_until(
        lambda: any(
            (p["pid"], p["role"]) == (worker, "worker")
            for p in status()["installation"]["processes"]
        ),
        30,
        "the worker's heartbeat",
    )

    operation_id = _start_probe(server, headers)

    def operation() -> dict[str, Any]:
        url = f"{server.url}/api/operations/{operation_id}"
        body: dict[str, Any] = httpx.get(url, headers=headers, timeout=10).json()
        return body

    _wait_until(lambda: any(e["step"] == "step-2" for e in operation()["events"]), 60, "step 2")
    os.kill(worker, signal.SIGKILL)  # now inside step 3
    _wait_until(
        lambda: len(_children(master, "workflow-worker") - {worker}) == 1, 30, "a new worker"
    )
    _wait_until(lambda: operation()["status"] != "running", 90, "the operation to end")
    body = operation()
    _completed_without_repeats(body)
    assert "exited" in server.log()  # the supervisor says so


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


def _children(parent: int, name: str) -> set[int]:
    """The children of `parent` with this process name (`ps -o comm`)."""
    found = set()
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                found.add(int(child))
        except FileNotFoundError:
            continue
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class RedirectLoad:
    """Keep-alive clients on raw sockets, each sending requests one after another until the
    server closes on them (bounded by `max_seconds`); counts what was sent and answered."""

    def __init__(self, port: int, host: str, clients: int, max_seconds: float = 30.0) -> None:
        self.port, self.host, self.max_seconds = port, host, max_seconds
        self.sent = 0
        self.answered = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def __enter__(self) -> RedirectLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        for thread in self._threads:
            thread.join(self.max_seconds + 10)

    def _client(self) -> None:
        request = f"GET /load?n=1 HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
        deadline = time.monotonic() + self.max_seconds
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return
        with sock:
            buffer = b""
            while time.monotonic() < deadline:
                try:
                    sock.sendall(request)
                    with self._lock:
                        self.sent += 1
                    while b"\r\n\r\n" not in buffer:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                except OSError:
                    return
                head, _, buffer = buffer.partition(b"\r\n\r\n")  # 301s have no body
                assert head.startswith(b"HTTP/1.1 301"), head
                with self._lock:
                    self.answered += 1
                if b"connection: close" in head.lower():
                    return


async def _stored_hits(env: dict[str, str], host: str) -> int:
    url = env.get("STELLWERK_DATABASE_URL") or (
        f"sqlite:///{Path(env['STELLWERK_DATA_DIR']) / 'stellwerk.sqlite'}"
    )
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as connection:
            query = text("SELECT count(*) FROM redirect_hits WHERE host = :host")
            return int((await connection.execute(query, {"host": host})).scalar_one())
    finally:
        await engine.dispose()


async def test_data_plane_workers_are_supervised_and_a_graceful_stop_loses_no_hit(
    server: ServeProcess, serve_env: dict[str, str]
) -> None:
    """`stellwerk serve` runs the data plane in worker processes of its own (the API process
    answers no redirect), replaces one that dies, and SIGTERM during load stores every hit."""
    assert server.process is not None
    master = server.process.pid
    host = "load-test.example"
    added = await asyncio.to_thread(
        run_cli, "redirect", "domains", "add", host, "--target", "https://t.example", env=serve_env
    )
    assert added.returncode == 0, added.stderr
    port = int(serve_env["STELLWERK_REDIRECT_PORT"])
    assert len(_children(master, "stellwerk-api")) == 1
    workers = _children(master, "redirect-worker")
    assert len(workers) == 2  # STELLWERK_REDIRECT_WORKERS

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    await asyncio.to_thread(
        _wait_until,
        lambda: len(_children(master, "redirect-worker") - {victim}) == 2,
        30,
        "a new worker",
    )

    def routed() -> bool:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 301

    await asyncio.to_thread(_wait_until, routed, 30, "the new domain on the data plane")

    def counted() -> bool:
        """The workers' counters show on the API's /metrics (published once a second)."""
        text = httpx.get(f"{server.url}/metrics", timeout=5).text
        answered = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("stellwerk_redirect_requests_total{")
        ]
        return len(answered) == 2 and sum(answered) >= 1

    await asyncio.to_thread(_wait_until, counted, 10, "the data plane's counters on /metrics")
    before = await _stored_hits(serve_env, host)
    children = _children(master, "redirect-worker") | _children(master, "stellwerk-api")

    def load_then_stop() -> RedirectLoad:
        with RedirectLoad(port, host, clients=8) as load:
            time.sleep(1.5)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)  # during the load
        return load

    load = await asyncio.to_thread(load_then_stop)
    assert server.process.wait(timeout=90) == 0, server.log()[-3000:]
    server.process = None
    assert load.answered > 100
    stored = await _stored_hits(serve_env, host) - before
    # Every answered request is stored; a request the server read but whose answer the client
    # never saw may be stored too, and so may the last readiness check (+1).
    assert load.answered <= stored <= load.sent + 1, (load.answered, load.sent, stored)
    assert not _alive(children)  # the API process and every worker stopped
