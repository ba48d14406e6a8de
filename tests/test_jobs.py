"""The periodic jobs: schedules of the installation, and which of them a process runs.

Two worker processes sharing a database: tests/cluster/test_jobs.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from dbos import DBOS
from fastapi import FastAPI
from typer.testing import CliRunner

from stellwerk import jobs
from stellwerk.cli.main import app
from stellwerk.config import Settings, UnsafeConfiguration
from stellwerk.jobs import JOBS, Job, enabled_jobs
from stellwerk.kit.periodic import cron_every
from stellwerk.kit.time import utc_now
from stellwerk.operation import engine
from stellwerk.runtime import Runtime


def _settings(tmp_path: Path, disabled: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, disabled_jobs=disabled)  # type: ignore[call-arg]


def test_every_job_runs_unless_disabled(tmp_path: Path) -> None:
    assert enabled_jobs(_settings(tmp_path, "")) == JOBS
    names = [job.name for job in enabled_jobs(_settings(tmp_path, " redirect.target_checks, "))]
    assert "redirect.target_checks" not in names
    assert len(names) == len(JOBS) - 1


def test_an_unknown_job_name_is_refused_with_the_names(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        enabled_jobs(_settings(tmp_path, "redirect.target_check"))
    message = str(refused.value)
    assert message.startswith("Refusing to start: STELLWERK_DISABLED_JOBS names no job")
    assert "redirect.target_checks" in message  # the list to pick from
    assert "\n" not in message


def test_the_documented_jobs_are_the_jobs() -> None:
    text = (Path(__file__).parents[1] / "docs" / "deployment.md").read_text()
    for job in JOBS:
        assert f"| `{job.name}` |" in text, job.name


def test_serve_refuses_an_unknown_job_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path)], env={"STELLWERK_DISABLED_JOBS": "nope"}
    )
    assert result.exit_code == 1, result.output
    assert "STELLWERK_DISABLED_JOBS names no job nope" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


async def test_every_job_is_a_schedule_of_the_installation(app: FastAPI) -> None:
    schedules = {
        s["schedule_name"]: s
        for s in await DBOS.list_schedules_async(schedule_name_prefix=jobs.SCHEDULE_PREFIX)
    }
    # The jobs this process has disabled too: another worker may run them.
    assert set(schedules) == {f"job:{job.name}" for job in JOBS}
    for job in JOBS:
        schedule = schedules[f"job:{job.name}"]
        assert schedule["schedule"] == cron_every(job.seconds)
        assert schedule["context"] == job.name
        assert schedule["queue_name"] == jobs.QUEUE
        assert schedule["status"] == "ACTIVE"


async def test_a_process_skips_the_jobs_it_has_disabled(app: FastAPI) -> None:
    # The test settings disable the jobs that probe the outside world.
    disabled = await asyncio.to_thread(DBOS.trigger_schedule, "job:redirect.target_checks")
    assert await asyncio.to_thread(disabled.get_result) == "skipped: disabled here"
    enabled = await asyncio.to_thread(DBOS.trigger_schedule, "job:web_sessions.expire")
    assert await asyncio.to_thread(enabled.get_result) == "ran"


async def test_a_failing_run_is_logged_and_the_next_one_runs(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def broken(runtime: Runtime) -> None:
        calls.append(1)
        raise RuntimeError("broken on purpose")

    taking = jobs._taking
    assert taking is not None
    monkeypatch.setitem(taking.jobs, "test.broken", Job("test.broken", 60, broken))
    monkeypatch.setattr(taking, "enabled", taking.enabled | {"test.broken"})
    with caplog.at_level(logging.ERROR, logger="stellwerk.jobs"):
        for at in ("2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00"):
            handle = await DBOS.start_workflow_async(jobs.periodic_job, at, "test.broken")
            assert await handle.get_result() == "failed"
    assert len(calls) == 2
    failed = [r for r in caplog.records if r.getMessage() == "periodic job failed"]
    assert len(failed) == 2
    assert failed[0].exc_info is not None


async def test_the_record_of_ended_runs_is_pruned(app: FastAPI) -> None:
    handle = await DBOS.start_workflow_async(
        jobs.periodic_job, "2026-01-01T00:00:00+00:00", "redirect.target_checks"
    )
    assert await handle.get_result() == "skipped: disabled here"
    # Ended just now: kept while younger than the cutoff, gone once older.
    await engine.delete_finished(jobs.WORKFLOW, utc_now() - jobs.RUNS_KEPT)
    assert await DBOS.get_workflow_status_async(handle.workflow_id) is not None
    deleted = await engine.delete_finished(jobs.WORKFLOW, utc_now() + dt.timedelta(seconds=1))
    assert deleted >= 1
    assert await DBOS.get_workflow_status_async(handle.workflow_id) is None
