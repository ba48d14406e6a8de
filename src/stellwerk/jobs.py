"""The periodic jobs: each a schedule of the workflow engine, so each interval of each job runs
once in the installation, however many workers there are.

Each job is a DBOS schedule named `job:<name>` (a cron expression of its interval, seconds first,
aligned to the clock) that fires the workflow `periodic_job` with the job's name. They are
DBOS's dynamic schedules, rows in the engine's system database, rather than a decorator (the
DBOS in use has only these, and they fit: the list of jobs is handed over at start, so tests run
jobs of their own with 1 s intervals, and the schedule of a job that no longer exists is deleted).
Every worker applies them at start (unchanged ones stay untouched) and every launched engine
fires every schedule, but a firing is a workflow whose id is made of the schedule's name and the
scheduled time, so it is enqueued once (on the `periodic-jobs` queue) and one worker runs it.
Only processes that run workflows (roles `all` and `worker`) launch the engine: an API-only
process runs no job.

`STELLWERK_DISABLED_JOBS` is per process: a worker that has a job disabled skips the runs of it
that it picks up (the workflow ends with "skipped: disabled here"). Set it alike on every worker;
with different lists a job runs only in the intervals a worker that runs it picks up.

A run is harmless when an interval runs twice (a worker that died mid-run is taken over and its
run repeated; clocks apart). A failing run is logged and ends its workflow ("failed"); the
schedule goes on. A worker runs one run of a job at a time (a run picked up while the previous
one still runs is skipped), and on stopping it takes no more runs and lets those in flight finish
(up to `kit.periodic.STOP_GRACE_SECONDS`) before the engine stops: a database call cancelled
halfway could leave SQLite's write lock taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dbos import DBOS

from stellwerk.config import Settings, UnsafeConfiguration
from stellwerk.identity.repository import WebSessionRepository
from stellwerk.kit import periodic
from stellwerk.kit.time import utc_now
from stellwerk.license import service as license_service
from stellwerk.module.service import reconcile_files
from stellwerk.notify import delivery as notify_delivery
from stellwerk.operation import engine
from stellwerk.operation.context import StepContext, workflow_context
from stellwerk.operation.service import sweep
from stellwerk.redirect import service as redirect_service
from stellwerk.redirect.checks import checks as redirect_checks
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime
from stellwerk.server.workflow import reconcile_job as reconcile_servers

log = logging.getLogger(__name__)

WORKFLOW = "periodic_job"
QUEUE = "periodic-jobs"
SCHEDULE_PREFIX = "job:"
RUNS_KEPT = dt.timedelta(days=1)  # the engine's record of each run, then `job_runs.prune`

engine.register_queue(QUEUE)


@dataclass(frozen=True)
class Job:
    name: str
    seconds: float
    run: Callable[[Runtime], Awaitable[object]]


async def _sweep_operations(runtime: Runtime) -> None:
    await sweep(runtime.database)


async def _expire_web_sessions(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await WebSessionRepository(session).delete_expired()


async def _recheck_redirect_dns(runtime: Runtime) -> None:
    await redirect_service.domain.recheck_if_due(runtime.database, runtime.settings)


async def _check_redirect_targets(runtime: Runtime) -> None:
    await redirect_checks.run_due(runtime.database, runtime.settings)


async def _prune_redirect_rollups(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await redirect_service.rollups.prune(session)


async def _expire_license_sessions(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await license_service.license_session.expire(session)
    await license_service.refresh_license_gauges(runtime.database.engine)


async def _announce_license_expiry(runtime: Runtime) -> None:
    await license_service.announce_expiry(runtime.database, runtime.settings)


async def _sweep_notifications(runtime: Runtime) -> None:
    await notify_delivery.sweep(runtime.database)


async def _cull_silent_license_devices(runtime: Runtime) -> None:
    await license_service.activation.cull_silent(runtime.database, runtime.settings)


async def _reconcile_module_files(runtime: Runtime) -> None:
    await reconcile_files(runtime.database, runtime.settings)


async def _refresh_domain_transfers(runtime: Runtime) -> None:
    if runtime.settings.inwx_username or runtime.settings.sandbox_enabled:
        async with runtime.database.session() as session:
            await registrar_service.refresh_pending(session, runtime.settings)


async def _prune_job_runs(runtime: Runtime) -> None:
    await engine.delete_finished(WORKFLOW, utc_now() - RUNS_KEPT)


JOBS: list[Job] = [
    Job("operations.sweep", 5.0, _sweep_operations),
    Job("web_sessions.expire", 600.0, _expire_web_sessions),
    Job("modules.reconcile", 30.0, _reconcile_module_files),
    Job("redirect.dns_recheck", 30.0, _recheck_redirect_dns),
    Job("redirect.target_checks", 60.0, _check_redirect_targets),
    Job("redirect.rollups_prune", 3600.0, _prune_redirect_rollups),
    Job("license.sessions_expire", 15.0, _expire_license_sessions),
    Job("license.devices_cull", 3600.0, _cull_silent_license_devices),
    Job("license.expiry_announce", 3600.0, _announce_license_expiry),
    Job("notifications.sweep", 10.0, _sweep_notifications),
    Job("registrar.transfers_refresh", 60.0, _refresh_domain_transfers),
    Job("servers.reconcile", 30.0, reconcile_servers),
    Job("job_runs.prune", 3600.0, _prune_job_runs),
]


def enabled_jobs(settings: Settings, jobs: Sequence[Job] | None = None) -> list[Job]:
    """The jobs (of `jobs`, by default `JOBS`) this process runs: all but those
    `STELLWERK_DISABLED_JOBS` names."""
    jobs = JOBS if jobs is None else jobs
    disabled = set(settings.disabled_job_list)
    unknown = sorted(disabled - {job.name for job in jobs})
    if unknown:
        raise UnsafeConfiguration(
            f"Refusing to start: STELLWERK_DISABLED_JOBS names no job {', '.join(unknown)}; "
            f"the jobs are {', '.join(job.name for job in jobs)}"
        )
    return [job for job in jobs if job.name not in disabled]


def schedule_name(job: Job) -> str:
    return f"{SCHEDULE_PREFIX}{job.name}"


@dataclass
class _Taking:
    """What this process runs of the runs it picks up."""

    runtime: Runtime
    jobs: dict[str, Job]
    enabled: frozenset[str]
    runs: periodic.Runs = dataclasses.field(default_factory=periodic.Runs)


_taking: _Taking | None = None


@contextlib.asynccontextmanager
async def taking_part(runtime: Runtime, jobs: Sequence[Job] | None = None) -> AsyncIterator[None]:
    """While inside, this process runs the job runs its workflow engine picks up (entered
    before the engine launches, which may recover runs at once). On leaving it takes no more
    and lets those in flight finish, for up to `STOP_GRACE_SECONDS` (runs picked up later are
    skipped)."""
    global _taking
    jobs = JOBS if jobs is None else jobs
    enabled = frozenset(job.name for job in enabled_jobs(runtime.settings, jobs))
    taking = _Taking(runtime, {job.name: job for job in jobs}, enabled)
    _taking = taking
    try:
        yield
    finally:
        still = await asyncio.to_thread(taking.runs.stop, periodic.STOP_GRACE_SECONDS)
        if still:
            log.warning("periodic jobs still running when stopping", extra={"jobs": still})


async def schedule(jobs: Sequence[Job] | None = None) -> None:
    """Make the installation's job schedules those of `jobs` (by default `JOBS`), every one of
    them whatever this process has disabled. Needs the launched engine."""
    jobs = JOBS if jobs is None else jobs
    await engine.keep_schedules(
        SCHEDULE_PREFIX,
        periodic_job,
        {schedule_name(job): (periodic.cron_every(job.seconds), job.name) for job in jobs},
        queue=QUEUE,
    )


@DBOS.workflow(name=WORKFLOW)
async def periodic_job(scheduled_at: Any, name: str) -> str:
    """One run of the job `name`, fired by its schedule for `scheduled_at`: how it went."""
    # The job runs outside this workflow's context, as it would anywhere else: the workflows it
    # starts are their own (not this one's children), and what it asks the engine is not
    # recorded as steps of this one.
    loop = asyncio.get_running_loop()
    ctx = workflow_context()
    return await loop.create_task(run(name, ctx), context=contextvars.Context())


async def run(name: str, ctx: StepContext) -> str:
    """Run the job `name` in this process unless it is disabled here, already running here, or
    the process is stopping; "ran", "failed" or "skipped: <why>"."""
    taking = _taking
    job = None if taking is None else taking.jobs.get(name)
    if taking is None or job is None:
        log.warning("a periodic job this process does not know", extra={"job": name})
        return "skipped: unknown here"
    if name not in taking.enabled:
        return "skipped: disabled here"
    with taking.runs.admit(name) as refused:
        if refused is not None:
            return f"skipped: {refused}"
        try:
            await job.run(_job_runtime(taking.runtime, ctx))
        except Exception:
            log.exception("periodic job failed", extra={"job": name})
            return "failed"
    return "ran"


def _job_runtime(runtime: Runtime, ctx: StepContext) -> Runtime:
    """The process's runtime as a job on the workflow engine's loop uses it: the database and
    settings of the workflow's context (the engine's database for that loop)."""
    return dataclasses.replace(runtime, database=ctx.database, settings=ctx.settings)
