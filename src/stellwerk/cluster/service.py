"""Workers as one installation.

Each worker records a heartbeat every `STELLWERK_WORKER_HEARTBEAT_SECONDS`. A worker silent for
`STELLWERK_WORKER_DEAD_AFTER_SECONDS` is taken over: one other worker (the lease in `workers`)
hands its pending workflows to the workflow engine's recovery, which puts them back on their
queues, where any live worker (or, for host-bound work, a live worker on the same host) goes on
with them after their last completed step.

Periodic jobs claim each interval in `periodic_jobs` before they run, so each runs once per
interval in the whole installation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from stellwerk.cluster.repository import PeriodicJobRepository, WorkerRepository
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.kit.periodic import run_every
from stellwerk.kit.time import utc_now

log = logging.getLogger(__name__)

Recover = Callable[[str], Awaitable[int]]


def host_name() -> str:
    return socket.gethostname()[:255]


async def claim_interval(database: Database, executor_id: str, name: str, slot: int) -> bool:
    async with database.session() as session:
        return await PeriodicJobRepository(session).claim(name, slot, executor_id)


async def once_per_interval(
    database: Database,
    executor_id: str,
    name: str,
    seconds: float,
    job: Callable[[], Awaitable[object]],
) -> None:
    """`job` every `seconds`, run by one of the workers for each interval."""
    await run_every(name, seconds, job, claim=partial(claim_interval, database, executor_id, name))


async def beat(database: Database, settings: Settings) -> None:
    async with database.session() as session:
        workers = WorkerRepository(session)
        if not await workers.beat(settings.executor_id):
            await workers.register(settings.executor_id, host_name())


async def take_over_silent(database: Database, settings: Settings, recover: Recover) -> list[str]:
    """Take over the work of every worker silent for too long (each by exactly one worker);
    the executor ids taken over."""
    me = settings.executor_id
    cutoff = utc_now() - dt.timedelta(seconds=settings.worker_dead_after_seconds)
    async with database.session() as session:
        silent = await WorkerRepository(session).silent_since(cutoff, besides=me)
    taken: list[str] = []
    for executor_id in silent:
        async with database.session() as session:
            if not await WorkerRepository(session).take_over(executor_id, cutoff, by=me):
                continue  # another worker was first
        try:
            count = await recover(executor_id)
        except Exception:
            log.exception("taking over a silent worker failed", extra={"executor": executor_id})
            async with database.session() as session:
                await WorkerRepository(session).release(executor_id, by=me)
            continue
        log.warning(
            "took over the pending workflows of a silent worker",
            extra={"executor": executor_id, "workflows": count},
        )
        taken.append(executor_id)
    return taken


@contextlib.asynccontextmanager
async def membership(
    database: Database, settings: Settings, recover: Recover
) -> AsyncIterator[None]:
    """While inside: this worker heartbeats and takes over silent ones."""
    async with database.session() as session:
        await WorkerRepository(session).register(settings.executor_id, host_name())

    async def watch() -> None:
        await beat(database, settings)
        await take_over_silent(database, settings, recover)

    task = asyncio.create_task(
        run_every("workers.heartbeat", settings.worker_heartbeat_seconds, watch)
    )
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
