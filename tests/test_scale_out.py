"""Scale-out: two API processes and two worker processes on one PostgreSQL database with Redis.

Limits and budgets must hold in total across the API processes, the sequential deployment queue
across the workers, and a worker killed mid-operation resumes when it starts again with its
executor id. The provider sandboxes run once, in their own `stellwerk sandbox` process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import pytest_asyncio
import redis
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from stellwerk.provider import registry
from stellwerk.provider.budget import token_fingerprint
from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database, postgres_available
from tests.process import STELLWERK, ServeProcess, base_env, free_sandbox_base_port, run_cli

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# A logical database of its own, so nothing here meets other tests' keys.
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/14"
LOGIN_LIMIT = 4
ADMIN_PASSWORD = "scale-out-admin-password"


def redis_available() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not postgres_available(), reason="scale-out needs PostgreSQL"),
    pytest.mark.skipif(not redis_available(), reason="scale-out needs Redis"),
]


class WorkerProcess(ServeProcess):
    """`stellwerk serve --role worker`: ready once its workflow engine has started."""

    def start(self, timeout: float = 60) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [STELLWERK, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited: {self.log()[-3000:]}")
            if b"workflow engine started" in self.log_path.read_bytes()[offset:]:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the worker did not come up: {self.log()[-3000:]}")


class SandboxProcess(ServeProcess):
    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [STELLWERK, "sandbox", "--no-persist"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        coolify = f"http://127.0.0.1:{int(self.env['STELLWERK_SANDBOX_PORT']) + 2}/api/v1"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandboxes exited: {self.log()[-3000:]}")
            try:
                httpx.get(f"{coolify}/version", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the sandboxes did not come up: {self.log()[-3000:]}")


@dataclass
class Cluster:
    database_url: str
    env: dict[str, str]
    apis: list[ServeProcess]
    workers: list[WorkerProcess]
    sandbox_port: int
    headers: dict[str, str]

    def worker(self, executor_id: str) -> WorkerProcess:
        return next(w for w in self.workers if w.env["STELLWERK_EXECUTOR_ID"] == executor_id)

    def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.database_url)
            try:
                return list(await connection.fetch(sql, *args))
            finally:
                await connection.close()

        return asyncio.run(run())


@pytest_asyncio.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    name = f"stellwerk_scale_{uuid.uuid4().hex[:8]}"
    await _recreate_database(name)
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    await _drop_database(name)


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scale-out")
    sandbox_port = free_sandbox_base_port()
    sandbox_env = base_env(root / "sandbox-var")
    sandbox_env["STELLWERK_SANDBOX_PORT"] = str(sandbox_port)
    sandbox_env["STELLWERK_SANDBOX_COOLIFY_QUEUE_SECONDS"] = "0.2"
    sandbox_env["STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS"] = "1"
    sandbox = SandboxProcess(sandbox_env, root / "sandbox.log")

    # Every process shares the database, the data directory and the secret; Redis in addition.
    shared = base_env(root / "var", database_url)
    shared.update(
        {
            "STELLWERK_REDIS_URL": REDIS_URL,
            "STELLWERK_SANDBOX": "true",
            "STELLWERK_SANDBOX_PORT": str(sandbox_port),
            "STELLWERK_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT}/minute",
            # The tests poll operations with one token; its limit is shared through Redis.
            "STELLWERK_TOKEN_RATE_LIMIT": "100000/minute",
            "STELLWERK_ADMIN_USERNAME": "root-admin",
            "STELLWERK_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "STELLWERK_PROJECT_POLL_SECONDS": "0.3",
            "STELLWERK_PROJECT_HEALTH_TIMEOUT_SECONDS": "20",
        }
    )
    workers = []
    for number in (1, 2):
        env = dict(shared, STELLWERK_ROLE="worker", STELLWERK_EXECUTOR_ID=f"worker-{number}")
        workers.append(WorkerProcess(env, root / f"worker-{number}.log"))
    apis = []
    for number in (1, 2):
        env = dict(shared, STELLWERK_ROLE="api", STELLWERK_PORT=str(_free_port()))
        apis.append(ServeProcess(env, root / f"api-{number}.log"))
    processes: list[ServeProcess] = [sandbox, *workers, *apis]
    _clear_login_windows()
    try:
        sandbox.start()
        # Both workers start at once: their migrations must not race.
        starters = [
            subprocess.Popen([STELLWERK, "migrate"], env=w.env, stdout=subprocess.DEVNULL)
            for w in workers
        ]
        assert [s.wait(timeout=120) for s in starters] == [0, 0]
        _each(lambda process: process.start(timeout=120), [*workers, *apis])
        for _attempt in range(5):  # the shared test server may be out of connections a moment
            created = run_cli(
                "token", "create", "--scope", "admin", "--json",
                env=dict(shared, STELLWERK_URL=apis[0].url),
            )  # fmt: skip
            if created.returncode == 0:
                break
            time.sleep(2)
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {json.loads(created.stdout)['token']}"}
        yield Cluster(database_url, shared, apis, workers, sandbox_port, headers)
    finally:
        _each(lambda process: process.stop(), processes)


def _each(action: Callable[[ServeProcess], None], processes: list[ServeProcess]) -> None:
    """Start or stop processes side by side (one after another takes minutes on a busy host)."""
    with ThreadPoolExecutor(len(processes)) as pool:
        for done in [pool.submit(action, process) for process in processes]:
            done.result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clear_login_windows() -> None:
    """A run within the last minute left its per-address login window in Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter("LIMITS:LIMITER/login-*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_login_limit_holds_across_api_processes(cluster: Cluster) -> None:
    _clear_login_windows()  # the command line's own logins counted for this address too
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    codes = []
    for attempt in range(2 * LOGIN_LIMIT):
        api = cluster.apis[attempt % 2]
        response = httpx.post(
            f"{api.url}/api/auth/login",
            json={"username": username, "password": "wrong-password"},
            timeout=10,
        )
        codes.append(response.status_code)
    # LOGIN_LIMIT attempts in total, not per process: each process alone would allow all of them.
    assert codes == [401] * LOGIN_LIMIT + [429] * LOGIN_LIMIT


def test_provider_budget_holds_across_api_processes(cluster: Cluster) -> None:
    api_key = f"sandbox-budget-{uuid.uuid4().hex[:8]}"
    first, second = cluster.apis
    created = httpx.post(
        f"{first.url}/api/admin/providers",
        json={
            "name": "Budget check",
            "type": "hetzner",
            "api_key": api_key,
            "configuration": {"api_url": f"http://127.0.0.1:{cluster.sandbox_port + 3}/v1"},
        },
        headers=cluster.headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    provider_id = created.json()["provider"]["id"]

    window = parse(registry.budget_limits("hetzner")[0])
    identifiers = ("budget", "hetzner", token_fingerprint(api_key))
    storage = RedisStorage(REDIS_URL)
    strategy = MovingWindowRateLimiter(storage)

    def spent() -> int:
        return window.amount - strategy.get_window_stats(window, *identifiers).remaining

    after_first = spent()
    assert after_first >= 1  # the first process counted its key check in Redis

    def recheck(api: ServeProcess) -> httpx.Response:
        return httpx.put(
            f"{api.url}/api/admin/providers/{provider_id}",
            json={"api_key": api_key},
            headers=cluster.headers,
            timeout=30,
        )

    assert recheck(second).status_code == 200
    after_second = spent()
    assert after_second > after_first  # ... and the second process counts in the same window

    # Spend the rest of the hour's budget from outside: neither process may call Hetzner now.
    assert strategy.hit(window, *identifiers, cost=window.amount - after_second)
    for api in cluster.apis:
        started = time.monotonic()
        refused = recheck(api)
        assert refused.status_code >= 400, refused.text
        assert "budget" in refused.text, refused.text
        assert time.monotonic() - started < 10
    assert spent() == window.amount
    storage.clear(window.key_for(*identifiers))


def test_deployments_stay_sequential_across_workers(cluster: Cluster) -> None:
    names = [f"seq{number}-{uuid.uuid4().hex[:4]}" for number in range(4)]
    for number, name in enumerate(names):
        created = httpx.post(
            f"{cluster.apis[number % 2].url}/api/projects",
            json={"name": name, "domain": f"{name}.example.de", "plugins": ["core"]},
            headers=cluster.headers,
            timeout=30,
        )
        assert created.status_code == 202, created.text
    deadline = time.monotonic() + 150
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        listed = httpx.get(
            f"{cluster.apis[0].url}/api/projects",
            params={"per_page": 100},
            headers=cluster.headers,
            timeout=10,
        ).json()
        states = {p["name"]: p["state"] for p in listed["items"] if p["name"] in names}
        if len(states) == len(names) and "provisioning" not in states.values():
            break
        time.sleep(0.5)
    assert states == dict.fromkeys(names, "active"), states

    deploys = cluster.query(
        "SELECT executor_id, started_at_epoch_ms, updated_at FROM dbos.workflow_status"
        " WHERE name = 'project.deploy' AND status = 'SUCCESS' ORDER BY started_at_epoch_ms"
    )
    assert len(deploys) == len(names)
    for earlier, later in zip(deploys, deploys[1:], strict=False):
        # One deployment finished before the next one started, whichever worker ran it.
        assert earlier["updated_at"] <= later["started_at_epoch_ms"], deploys
    executors = {row["executor_id"] for row in deploys}
    assert executors <= {"worker-1", "worker-2"}


def test_killed_worker_resumes_its_operation(cluster: Cluster) -> None:
    api = cluster.apis[0]
    started = httpx.post(
        f"{api.url}/api/operations/probe",
        json={"steps": 3, "seconds": 2.0},
        headers=cluster.headers,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    operation_id = started.json()["id"]

    def operation() -> dict[str, object]:
        response = httpx.get(
            f"{api.url}/api/operations/{operation_id}", headers=cluster.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = operation()
        if any(e["step"] == "step-1" for e in body["events"]):  # type: ignore[attr-defined]
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"step 1 never finished: {body}")
    (row,) = cluster.query(
        "SELECT executor_id FROM dbos.workflow_status WHERE workflow_uuid = $1", operation_id
    )
    victim = cluster.worker(row["executor_id"])
    victim.kill()  # inside step 2
    time.sleep(1)
    assert operation()["status"] == "running"
    victim.start()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = operation()
        if body["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert body["status"] == "completed", (body, victim.log()[-3000:])
    steps = [str(e["step"]) for e in body["events"]]  # type: ignore[attr-defined]
    assert steps.count("probe-1") == 1  # finished before the kill: not run again
    assert 1 <= steps.count("probe-2") <= 2  # the step in flight may run twice (at least once)
    assert steps.count("probe-3") == 1
    assert steps.count("finish") == 1
    (status,) = cluster.query(
        "SELECT status, recovery_attempts FROM dbos.workflow_status WHERE workflow_uuid = $1",
        operation_id,
    )
    assert status["status"] == "SUCCESS"
