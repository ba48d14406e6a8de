"""Repeating work stops without abandoning a run halfway; intervals as cron expressions."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from stellwerk.kit import periodic
from stellwerk.kit.periodic import Runs, cron_every, run_every


async def test_a_run_in_flight_finishes_before_the_loop_stops() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        await asyncio.sleep(0.2)  # a database write, say
        finished.set()

    loop_task = asyncio.create_task(run_every("test.job", 60, job))
    await started.wait()
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert finished.is_set()


async def test_a_run_that_does_not_end_is_cancelled_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(periodic, "STOP_GRACE_SECONDS", 0.1)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop_task = asyncio.create_task(run_every("test.stuck", 60, job))
    await started.wait()
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(loop_task, timeout=5)
    assert cancelled.is_set()


def test_intervals_become_cron_expressions_aligned_to_the_clock() -> None:
    assert cron_every(1) == "*/1 * * * * *"
    assert cron_every(5.0) == "*/5 * * * * *"
    assert cron_every(30) == "*/30 * * * * *"
    assert cron_every(60) == "0 */1 * * * *"
    assert cron_every(600) == "0 */10 * * * *"
    assert cron_every(3600) == "0 0 */1 * * *"
    assert cron_every(86400) == "0 0 0 * * *"
    for uneven in (0, 0.5, 7, 90, 700, 5000, 2 * 86400):
        with pytest.raises(ValueError, match="whole number|does not divide"):
            cron_every(uneven)


def test_runs_admit_one_run_per_name_and_none_once_stopping() -> None:
    runs = Runs()
    with runs.admit("a") as first:
        assert first is None
        with runs.admit("a") as again, runs.admit("b") as other:
            assert (again, other) == ("running", None)
    with runs.admit("a") as after:
        assert after is None
    assert runs.stop(timeout=1) == []
    with runs.admit("a") as stopped:
        assert stopped == "stopping"


def test_stopping_waits_for_runs_in_flight_up_to_the_timeout() -> None:
    runs = Runs()
    inside, release = threading.Event(), threading.Event()

    def run(seconds: float) -> None:
        with runs.admit("slow"):
            inside.set()
            release.wait(seconds)

    worker = threading.Thread(target=run, args=(0.3,))
    worker.start()
    inside.wait()
    started = time.monotonic()
    assert runs.stop(timeout=5) == []  # the run ended by itself, and stop saw it
    assert 0.1 < time.monotonic() - started < 4
    worker.join()

    stuck = Runs()
    inside.clear()
    worker = threading.Thread(target=lambda: _hold(stuck, inside, release))
    worker.start()
    inside.wait()
    assert stuck.stop(timeout=0.1) == ["slow"]  # given up on after the timeout
    release.set()
    worker.join()


def _hold(runs: Runs, inside: threading.Event, release: threading.Event) -> None:
    with runs.admit("slow"):
        inside.set()
        release.wait(10)
