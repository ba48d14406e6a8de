"""Periodic jobs in a cluster: two worker processes on one database run each interval of a job
once between them, skip a job both have disabled, go on after a failing run, and stop quickly
with the run in flight finished (no write lock left behind)."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from stellwerk import migrate
from stellwerk.config import Settings, to_sync_url
from tests.conftest import PG_HOST, PG_PORT, postgres_available
from tests.process import base_env

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("job_worker.py")
ROOT = Path(__file__).parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if not postgres_available():
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    name = f"stellwerk_jobs_{tmp_path.name[-20:].replace('-', '_').lower()}"
    admin = sa.create_engine(
        f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start(env: dict[str, str], executor: str, out: Path) -> subprocess.Popen[bytes]:
    env = {**env, "STELLWERK_EXECUTOR_ID": executor, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(WORKER)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while "READY" not in out.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the job worker did not start: {out.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def _lines(path: Path, job: str) -> list[str]:
    if not path.exists():
        return []
    return [line.split()[1] for line in path.read_text().splitlines() if line.split()[0] == job]


def _outcomes(settings: Settings) -> dict[str, list[str]]:
    """The outcome of every run of each job's schedule, from the engine's workflow table."""
    query = (
        "SELECT s.schedule_name, s.status, o.output FROM {schema}workflow_status s "
        "LEFT JOIN {schema}workflow_output o ON o.workflow_uuid = s.workflow_uuid "
        "WHERE s.schedule_name LIKE 'job:test.%' ORDER BY s.created_at"
    )
    if settings.is_sqlite:
        with contextlib.closing(sqlite3.connect(settings.data_dir / "workflows.sqlite")) as db:
            rows = db.execute(query.format(schema="")).fetchall()
    else:
        engine = sa.create_engine(to_sync_url(settings.resolved_database_url))
        with engine.connect() as connection:
            rows = list(connection.execute(sa.text(query.format(schema="dbos."))).tuples())
        engine.dispose()
    outcomes: dict[str, list[str]] = {}
    for schedule, status, output in rows:
        outcome = json.loads(output) if status == "SUCCESS" and output else status
        outcomes.setdefault(schedule.removeprefix("job:"), []).append(outcome)
    return outcomes


def test_two_workers_run_each_interval_once(tmp_path: Path, database_url: str | None) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    runs = tmp_path / "runs.log"
    env = base_env(data_dir, database_url)
    env.update(
        {
            "STELLWERK_SANDBOX": "false",
            "STELLWERK_DISABLED_JOBS": "test.off",
            "STELLWERK_LOG_FORMAT": "json",
            "JOB_TEST_RUNS": str(runs),
        }
    )
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)  # type: ignore[call-arg]
    migrate.upgrade(settings.resolved_database_url)
    app_db = sa.create_engine(to_sync_url(settings.resolved_database_url))
    with app_db.begin() as connection:
        connection.execute(sa.text("CREATE TABLE job_probe (executor VARCHAR(200), note TEXT)"))

    started = time.time()
    workers = [_start(env, name, tmp_path / f"{name}.log") for name in ("jobs-a", "jobs-b")]
    try:
        time.sleep(5)
        # Stop both while a run of test.slow (a write transaction held for 1.5 s) is under way.
        slow_runs = len(_lines(runs, "test.slow"))
        deadline = time.monotonic() + 10
        while len(_lines(runs, "test.slow")) == slow_runs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_lines(runs, "test.slow")) > slow_runs, "test.slow did not run"
        stopping = time.time()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0
        stopped = time.time() - stopping
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    logs = "".join((tmp_path / f"{name}.log").read_text() for name in ("jobs-a", "jobs-b"))
    # The run in flight finishes (1.5 s), the engine stops; a lock left behind would hold a
    # worker for 30 s or more. Loaded test machines take several seconds for the rest.
    assert stopped < 20, f"stopping took {stopped:.1f} s"

    outcomes = _outcomes(settings)
    ticks = _lines(runs, "test.tick")
    # Each firing is one workflow (its id is the schedule and the time), run once: every run
    # of the job is one "ran" workflow, and there is at most one per second.
    assert len(ticks) == outcomes["test.tick"].count("ran"), (ticks, outcomes["test.tick"])
    assert 3 <= len(ticks) <= (stopping - started) + 1, (ticks, stopping - started)
    # Disabled in both: scheduled, skipped every time.
    assert _lines(runs, "test.off") == []
    assert outcomes["test.off"].count("skipped: disabled here") >= 3
    # A failing job fails every second, and goes on being run.
    assert outcomes["test.fails"].count("failed") >= 3
    assert "periodic job failed" in logs
    assert "this job always fails" in logs
    # Every run of test.slow that started finished, the one in flight at SIGTERM too.
    with app_db.connect() as connection:
        notes = connection.execute(sa.text("SELECT note FROM job_probe")).scalars().all()
    assert notes.count("started") == notes.count("finished") == len(_lines(runs, "test.slow"))
    # ...and nothing holds the database's write lock.
    with app_db.begin() as connection:
        connection.execute(sa.text("INSERT INTO job_probe (executor, note) VALUES ('t', 'after')"))
    app_db.dispose()
