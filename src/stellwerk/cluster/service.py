"""Workers as one installation.

Each worker records a heartbeat every `STELLWERK_WORKER_HEARTBEAT_SECONDS`. A worker silent for
`STELLWERK_WORKER_DEAD_AFTER_SECONDS` is taken over: one other worker (the lease in `workers`)
hands its pending workflows to the workflow engine's recovery, which puts them back on their
queues, where any live worker (or, for host-bound work, a live worker on the same host) goes on
with them after their last completed step.

Periodic jobs are the workflow engine's schedules (`stellwerk.jobs`): each interval runs once in
the installation by the engine's own means.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

from stellwerk.cluster.repository import WorkerRepository
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.kit.periodic import run_every
from stellwerk.kit.time import utc_now

log = logging.getLogger(__name__)

Recover = Callable[[str], Awaitable[int]]


def host_name() -> str:
    return socket.gethostname()[:255]


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
