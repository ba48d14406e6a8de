"""Periodic jobs once per interval, and one worker taking over a silent one."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Coroutine
from typing import Any

from stellwerk.cluster import service as cluster
from stellwerk.cluster.repository import PeriodicJobRepository, WorkerRepository
from stellwerk.kit.periodic import run_every
from stellwerk.kit.time import utc_now
from stellwerk.models import Worker
from stellwerk.runtime import Runtime


async def test_an_interval_is_claimed_once(runtime: Runtime) -> None:
    database = runtime.database
    assert await cluster.claim_interval(database, "a", "job.x", 100)
    assert not await cluster.claim_interval(database, "b", "job.x", 100)
    assert not await cluster.claim_interval(database, "b", "job.x", 99)  # an older interval
    assert await cluster.claim_interval(database, "b", "job.x", 101)
    assert await cluster.claim_interval(database, "b", "job.y", 100)  # each job its own
    async with database.session() as session:
        jobs = {j.name: j for j in await PeriodicJobRepository(session).list()}
    assert (jobs["job.x"].last_slot, jobs["job.x"].executor_id) == (101, "b")


async def test_several_workers_run_a_job_once_per_interval(runtime: Runtime) -> None:
    seconds = 0.2
    won: list[int] = []  # the intervals claimed, by whichever worker
    runs: list[str] = []

    def worker(executor: str) -> Coroutine[Any, Any, None]:
        async def claim(slot: int) -> bool:
            claimed = await cluster.claim_interval(runtime.database, executor, "job.z", slot)
            if claimed:
                won.append(slot)
            return claimed

        async def job() -> None:
            runs.append(executor)

        return run_every("job.z", seconds, job, claim=claim)

    workers = [asyncio.create_task(worker(name)) for name in ("w1", "w2", "w3")]
    started = time.time()
    await asyncio.sleep(1.1)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    assert len(won) == len(set(won))  # no interval claimed twice
    assert len(runs) == len(won)  # and only claimed ones ran
    assert len(won) >= 3
    assert len(won) <= int((time.time() - started) / seconds) + 2


async def test_exactly_one_worker_takes_over_a_silent_one(runtime: Runtime) -> None:
    # Silent for 10 s: dead for these callers (2 s), not yet for the app's own worker (15 s).
    settings = runtime.settings.model_copy(update={"worker_dead_after_seconds": 2.0})
    long_ago = utc_now() - dt.timedelta(seconds=10)
    async with runtime.database.session() as session:
        session.add(
            Worker(executor_id="gone", host="h", started_at=long_ago, heartbeat_at=long_ago)
        )
    recovered: list[tuple[str, str]] = []

    def recover_as(me: str) -> cluster.Recover:
        async def recover(executor_id: str) -> int:
            recovered.append((me, executor_id))
            await asyncio.sleep(0.05)
            return 1

        return recover

    taken = await asyncio.gather(
        *(
            cluster.take_over_silent(
                runtime.database,
                settings.model_copy(update={"executor_id": me}),
                recover_as(me),
            )
            for me in ("w1", "w2", "w3")
        )
    )
    assert sorted(sum(taken, [])) == ["gone"]
    assert [executor for _, executor in recovered] == ["gone"]
    # Taken over once: nobody takes it again.
    again = await cluster.take_over_silent(
        runtime.database, settings.model_copy(update={"executor_id": "w4"}), recover_as("w4")
    )
    assert again == []
    assert len(recovered) == 1
    # The worker starts again: alive, and its work is its own again.
    async with runtime.database.session() as session:
        await WorkerRepository(session).register("gone", "h")
    async with runtime.database.session() as session:
        row = await session.get(Worker, "gone")
        assert row is not None
        assert row.recovered_by is None


async def test_a_failed_take_over_is_given_back(runtime: Runtime) -> None:
    # Silent for 10 s: dead for these callers (2 s), not yet for the app's own worker (15 s).
    settings = runtime.settings.model_copy(update={"worker_dead_after_seconds": 2.0})
    long_ago = utc_now() - dt.timedelta(seconds=10)
    async with runtime.database.session() as session:
        session.add(
            Worker(executor_id="gone2", host="h", started_at=long_ago, heartbeat_at=long_ago)
        )

    async def broken(executor_id: str) -> int:
        raise RuntimeError("engine unavailable")

    async def works(executor_id: str) -> int:
        return 0

    me = settings.model_copy(update={"executor_id": "w1"})
    assert await cluster.take_over_silent(runtime.database, me, broken) == []
    assert await cluster.take_over_silent(runtime.database, me, works) == ["gone2"]


async def test_a_worker_records_its_heartbeat(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await session.execute(Worker.__table__.delete())
    await cluster.beat(runtime.database, runtime.settings)  # registers again when missing
    async with runtime.database.session() as session:
        workers = await WorkerRepository(session).list()
    assert [w.executor_id for w in workers] == [runtime.settings.executor_id]
