"""One worker taking over a silent one."""

from __future__ import annotations

import asyncio
import datetime as dt

from stellwerk.cluster import service as cluster
from stellwerk.cluster.repository import WorkerRepository
from stellwerk.kit.time import utc_now
from stellwerk.models import Worker
from stellwerk.runtime import Runtime


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
