"""Background loops stop without abandoning a run halfway."""

from __future__ import annotations

import asyncio

import pytest

from stellwerk.kit import periodic
from stellwerk.kit.periodic import run_every


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


async def test_a_claimed_interval_runs_the_job_and_a_lost_one_does_not() -> None:
    runs: list[int] = []
    claims: list[int] = []
    asked_twice = asyncio.Event()

    async def claim(slot: int) -> bool:
        claims.append(slot)
        if len(claims) == 2:
            asked_twice.set()
        return len(claims) == 1

    async def job() -> None:
        runs.append(1)

    loop_task = asyncio.create_task(run_every("test.claimed", 0.05, job, claim=claim))
    await asyncio.wait_for(asked_twice.wait(), timeout=5)
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert runs == [1]
