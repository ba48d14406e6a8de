"""A cluster that survives its parts: two workers and an API process on PostgreSQL with a Redis
of their own. Redis stopped during provisioning and license traffic costs no request and no
operation; a worker killed mid-operation and never started again is taken over by the other."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import pytest_asyncio

from stellwerk.config import Settings
from stellwerk.provider import connect
from stellwerk.provider.dns.base import DnsRecord
from stellwerk.provider.error import NOT_FOUND, ProviderError
from stellwerk.provider.paas.base import PaasApplication, PaasProject
from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database, postgres_available
from tests.process import (
    STELLWERK,
    ServeProcess,
    base_env,
    free_port,
    free_sandbox_base_port,
    run_cli,
)
from tests.redis_server import REDIS_SERVER, RedisServer
from tests.test_scale_out import SandboxProcess, WorkerProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # five processes start on a possibly busy host
    pytest.mark.skipif(not postgres_available(), reason="needs PostgreSQL"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]


@dataclass
class Installation:
    database_url: str
    redis: RedisServer
    api: ServeProcess
    workers: list[WorkerProcess]
    headers: dict[str, str]
    sandbox_port: int
    root: Path

    def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.database_url)
            try:
                return list(await connection.fetch(sql, *args))
            finally:
                await connection.close()

        return asyncio.run(run())

    def operation(self, operation_id: str) -> dict[str, object]:
        response = httpx.get(
            f"{self.api.url}/api/operations/{operation_id}", headers=self.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest_asyncio.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    name = f"stellwerk_failover_{uuid.uuid4().hex[:8]}"
    await _recreate_database(name)
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    await _drop_database(name)


@pytest.fixture(scope="module")
def installation(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    root = tmp_path_factory.mktemp("failover")
    redis = RedisServer(root)
    redis.start()
    sandbox_port = free_sandbox_base_port()
    sandbox_env = base_env(root / "sandbox-var")
    sandbox_env["STELLWERK_SANDBOX_PORT"] = str(sandbox_port)
    sandbox_env["STELLWERK_SANDBOX_COOLIFY_QUEUE_SECONDS"] = "0.2"
    sandbox_env["STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS"] = "1"
    sandbox = SandboxProcess(sandbox_env, root / "sandbox.log")
    shared = base_env(root / "var", database_url)
    shared.update(
        {
            "STELLWERK_REDIS_URL": redis.url,
            "STELLWERK_SANDBOX": "true",
            "STELLWERK_SANDBOX_PORT": str(sandbox_port),
            "STELLWERK_TOKEN_RATE_LIMIT": "100000/minute",
            "STELLWERK_LICENSE_RATE_LIMIT": "100000/minute",
            "STELLWERK_PROJECT_POLL_SECONDS": "0.3",
            "STELLWERK_PROJECT_HEALTH_TIMEOUT_SECONDS": "20",
        }
    )
    workers = [
        WorkerProcess(
            dict(shared, STELLWERK_ROLE="worker", STELLWERK_EXECUTOR_ID=f"worker-{n}"),
            root / f"worker-{n}.log",
        )
        for n in (1, 2)
    ]
    api = ServeProcess(
        dict(shared, STELLWERK_ROLE="api", STELLWERK_PORT=str(free_port())), root / "api.log"
    )
    try:
        sandbox.start()
        migrated = subprocess.run([STELLWERK, "migrate"], env=shared, check=False, timeout=120)
        assert migrated.returncode == 0
        for process in (*workers, api):
            process.start(timeout=120)
        created = run_cli(
            "token", "create", "--scope", "admin", "--json", env=dict(shared, STELLWERK_URL=api.url)
        )
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {json.loads(created.stdout)['token']}"}
        yield Installation(database_url, redis, api, workers, headers, sandbox_port, root)
    finally:
        for process in (api, *workers, sandbox):
            process.stop()
        redis.stop()


REDIS_OUTAGE_SECONDS = 10.0


@dataclass
class SandboxHoldings:
    """What the Coolify and DNS sandboxes hold, as their own APIs list it."""

    projects: list[PaasProject]
    applications: list[PaasApplication]
    records: dict[str, list[DnsRecord]]


def sandbox_holdings(installation: Installation, zones: list[str]) -> SandboxHoldings:
    """Asked over the wire (Coolify's `GET /api/v1/projects` and `/applications`, the default DNS
    provider's record listing), the way Stellwerk's workers reach the sandboxes."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        sandbox=True,
        sandbox_port=installation.sandbox_port,
        data_dir=installation.root / "probe",
    )

    async def ask() -> SandboxHoldings:
        async with connect.paas(settings) as paas:
            projects = await paas.list_projects()
            applications = await paas.list_applications()
        records: dict[str, list[DnsRecord]] = {}
        async with connect.dns(settings, settings.dns_default_provider) as dns:
            for zone in zones:
                try:
                    listed = await dns.list_records(zone=zone)
                except ProviderError as error:
                    if error.code != NOT_FOUND:
                        raise
                    listed = []
                records[zone] = [r for r in listed if r.type not in ("SOA", "NS")]
        return SandboxHoldings(projects, applications, records)

    return asyncio.run(ask())


def assert_nothing_left_behind(
    installation: Installation, projects: dict[str, dict[str, Any]]
) -> None:
    """The sandboxes hold exactly what the completed projects recorded, once each, and nothing
    of the rolled-back ones."""
    completed = {n: p for n, p in projects.items() if p["state"] == "active"}
    rolled_back = {n: p for n, p in projects.items() if p["state"] == "error"}
    assert set(completed) | set(rolled_back) == set(projects), projects
    held = sandbox_holdings(installation, [p["domain"] for p in projects.values()])
    ours = {f"vrs-{name}" for name in projects}

    coolify_projects = sorted((p.name, p.uuid) for p in held.projects if p.name in ours)
    assert coolify_projects == sorted(
        (f"vrs-{n}", p["coolify_project_uuid"]) for n, p in completed.items()
    )
    applications = sorted((a.name, a.uuid) for a in held.applications if a.name in ours)
    assert applications == sorted((f"vrs-{n}", p["coolify_app_uuid"]) for n, p in completed.items())
    for name, project in projects.items():
        domain = project["domain"]
        records = sorted((r.fqdn, r.type, r.content) for r in held.records[domain])
        if name in completed:
            ip = project["server_ip"]
            assert records == [(domain, "A", ip), (f"www.{domain}", "A", ip)], (name, records)
            assert {r.id for r in held.records[domain]} == {
                str(r["id"]) for r in project["dns_records"]
            }
        else:
            assert records == [], (name, records)


def test_redis_away_costs_no_request_and_no_operation(installation: Installation) -> None:
    api = installation.api
    names = [f"redis{n}-{uuid.uuid4().hex[:4]}" for n in range(4)]
    codes: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        """License clients, logins and token API calls, all through the outage."""
        with httpx.Client(base_url=api.url, timeout=10) as http:
            while not stop.is_set():
                codes.append(
                    http.post(
                        "/api/license/verify",
                        json={"license_key": "NOPE-NOPE-NOPE-NOPE", "hardware_hash": "h"},
                        headers={"X-API-Key": "not-a-key"},
                    ).status_code
                )
                codes.append(
                    http.post(
                        "/api/auth/login", json={"username": "nobody", "password": "wrong"}
                    ).status_code
                )
                codes.append(http.get("/api/operations", headers=installation.headers).status_code)
                time.sleep(0.05)

    for name in names:
        created = httpx.post(
            f"{api.url}/api/projects",
            json={"name": name, "domain": f"{name}.example.de", "plugins": ["core"]},
            headers=installation.headers,
            timeout=30,
        )
        assert created.status_code == 202, created.text
    runner = threading.Thread(target=traffic)
    runner.start()
    try:
        time.sleep(1)
        installation.redis.stop()
        stopped = time.monotonic()
        time.sleep(6)
        status = httpx.get(f"{api.url}/status", timeout=10).json()
        assert status["status"] == "degraded"
        assert httpx.get(f"{api.url}/health", timeout=10).status_code == 200
        time.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - stopped)))
        installation.redis.start()
        deadline = time.monotonic() + 150
        states: dict[str, str] = {}
        projects: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            listed = httpx.get(
                f"{api.url}/api/projects",
                params={"per_page": 100},
                headers=installation.headers,
                timeout=10,
            ).json()
            projects = {p["name"]: p for p in listed["items"] if p["name"] in names}
            states = {name: p["state"] for name, p in projects.items()}
            if len(states) == len(names) and "provisioning" not in states.values():
                break
            time.sleep(0.5)
    finally:
        stop.set()
        runner.join(30)
    assert states == dict.fromkeys(names, "active"), projects
    assert codes
    assert 500 not in codes, sorted(set(codes))
    assert all(code < 500 for code in codes), sorted(set(codes))
    assert httpx.get(f"{api.url}/status", timeout=10).json()["status"] == "ok"
    assert_nothing_left_behind(installation, projects)


def test_a_killed_worker_is_taken_over(installation: Installation) -> None:
    started = httpx.post(
        f"{installation.api.url}/api/operations/probe",
        json={"steps": 3, "seconds": 2.0},
        headers=installation.headers,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    operation_id = started.json()["id"]
    deadline = time.monotonic() + 60
    body = installation.operation(operation_id)
    while time.monotonic() < deadline:
        body = installation.operation(operation_id)
        if any(e["step"] == "probe-1" for e in body["events"]):  # type: ignore[attr-defined]
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"step 1 never finished: {body}")
    (row,) = installation.query(
        "SELECT executor_id FROM operations WHERE id = $1", uuid.UUID(operation_id)
    )
    victim = next(
        w for w in installation.workers if w.env["STELLWERK_EXECUTOR_ID"] == row["executor_id"]
    )
    survivor = next(w for w in installation.workers if w is not victim)
    victim.kill()  # inside step 2, and never started again
    killed_at = time.monotonic()

    deadline = killed_at + 60
    while time.monotonic() < deadline:
        body = installation.operation(operation_id)
        if body["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert body["status"] == "completed", (body, survivor.log()[-3000:])
    steps = [str(e["step"]) for e in body["events"]]  # type: ignore[attr-defined]
    assert steps.count("probe-1") == 1  # finished before the kill: not run again
    assert 1 <= steps.count("probe-2") <= 2  # the step in flight may run twice
    assert steps.count("probe-3") == 1
    assert steps.count("finish") == 1
    (row,) = installation.query(
        "SELECT executor_id FROM operations WHERE id = $1", uuid.UUID(operation_id)
    )
    assert row["executor_id"] == survivor.env["STELLWERK_EXECUTOR_ID"]
    (lease,) = installation.query(
        "SELECT recovered_by FROM workers WHERE executor_id = $1",
        victim.env["STELLWERK_EXECUTOR_ID"],
    )
    assert lease["recovered_by"] == survivor.env["STELLWERK_EXECUTOR_ID"]
    listed = run_cli(
        "ops",
        "show",
        operation_id,
        "--json",
        env=dict(installation.api.env, STELLWERK_URL=installation.api.url),
    )
    assert json.loads(listed.stdout)["executor_id"] == survivor.env["STELLWERK_EXECUTOR_ID"]
