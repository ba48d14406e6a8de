"""`stellwerk redirect ...` as an operator runs it: the standalone data plane with several
workers (routing changes reach every worker process)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from stellwerk.config import Settings
from stellwerk.redirect.workers import WORKER_NAME
from stellwerk.runtime import Runtime
from tests.factories import create_admin
from tests.process import STELLWERK, base_env, free_port
from tests.redirect.conftest import wait_for
from tests.redirect.factories import create_domain

pytestmark = pytest.mark.slow


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path / "cli", settings.resolved_database_url)
    env["STELLWERK_SECRET_KEY"] = "test-secret-key-not-for-production"
    env["STELLWERK_PUBLIC_IPV4"] = "203.0.113.42"
    env["STELLWERK_REDIRECT_REFRESH_SECONDS"] = "0.2"
    return env


@asynccontextmanager
async def standalone_plane(
    env: dict[str, str], port: int, log_path: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`stellwerk redirect serve --workers 2`, stopped with Ctrl+C (SIGINT) on leaving."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-running server, not awaited
            [STELLWERK, "redirect", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.wait, 30)


async def test_standalone_workers_follow_changes_and_flush_on_stop(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    env = _env(settings, tmp_path)
    port = free_port()
    env["STELLWERK_METRICS_PORT"] = str(metrics_port := free_port())
    log_path = tmp_path / "plane.log"
    async with (
        standalone_plane(env, port, log_path),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http,
    ):

        async def up() -> bool:
            try:
                await http.get("/", headers={"Host": "nothing.example"})
            except httpx.HTTPError:
                return False
            return True

        await wait_for(up, timeout=30, interval=0.2)
        admin = await create_admin(runtime)
        await create_domain(runtime, admin, domain="workers.example")
        created = time.monotonic()

        async def all_workers_route() -> bool:
            # New connections land on either worker; all must know the domain.
            answers = []
            for _ in range(6):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as fresh:
                    answer = await fresh.get("/w", headers={"Host": "workers.example"})
                answers.append(answer.status_code)
            return all(a == 301 for a in answers)

        await wait_for(all_workers_route, timeout=6, interval=0.1)
        # 1 s required (each check opens six connections, slow on a loaded machine).
        assert time.monotonic() - created < 4.0
        served = 0
        for _ in range(100):
            response = await http.get("/w?x=1", headers={"Host": "workers.example"})
            assert response.headers["location"] == "https://www.firma.example/w?x=1"
            served += 1

        async def scraped() -> bool:
            """The data plane's counters on its metrics port (published once a second)."""
            answer = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            totals: dict[str, float] = {}
            for line in answer.text.splitlines():
                if line.startswith("stellwerk_redirect_"):
                    name, value = line.split("{")[0].split(" ")[0], float(line.rsplit(" ", 1)[1])
                    totals[name] = totals.get(name, 0.0) + value
            return all(
                totals.get(f"stellwerk_redirect_{name}_total", 0) >= served
                for name in ("requests", "hits_spooled", "hits_written")
            )

        await wait_for(scraped, timeout=20, interval=0.2)
        assert f"Metrics on http://127.0.0.1:{metrics_port}/metrics" in log_path.read_text()
    async with runtime.database.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT count(*) FROM redirect_hits WHERE path = '/w?x=1'")
            )
        ).scalar_one()
    assert stored == served, log_path.read_text()[-3000:]


def _worker_pids(parent: int) -> set[int]:
    """The data plane's workers name themselves (`ps -o comm`); the writer and helpers differ."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    pids = set()
    for child in map(int, children):
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == WORKER_NAME:
                pids.add(child)
        except FileNotFoundError:
            continue
    return pids


async def test_a_killed_worker_is_replaced(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    env = _env(settings, tmp_path)
    port = free_port()
    async with standalone_plane(env, port, tmp_path / "plane.log") as process:

        async def two_workers() -> bool:
            return len(_worker_pids(process.pid)) == 2

        await wait_for(two_workers, timeout=30, interval=0.2)
        victim = min(_worker_pids(process.pid))
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            pids = _worker_pids(process.pid)
            return len(pids) == 2 and victim not in pids

        await wait_for(replaced, timeout=10, interval=0.2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def answers() -> bool:
                try:
                    response = await http.get("/", headers={"Host": "nothing.example"})
                except httpx.HTTPError:
                    return False
                return response.status_code == 404

            await wait_for(answers, timeout=30, interval=0.2)
        assert "exited" in (tmp_path / "plane.log").read_text()
    assert process.returncode == 0
