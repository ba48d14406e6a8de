"""The periodic jobs the workers run: each interval of each job once in the installation
(`cluster.service.once_per_interval`); a job stays harmless if an interval runs twice (a worker
that died mid-run, clocks apart)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from stellwerk.config import Settings, UnsafeConfiguration
from stellwerk.identity.repository import WebSessionRepository
from stellwerk.license import service as license_service
from stellwerk.module.service import reconcile_files
from stellwerk.notify import delivery as notify_delivery
from stellwerk.operation.service import sweep
from stellwerk.redirect import service as redirect_service
from stellwerk.redirect.checks import checks as redirect_checks
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime
from stellwerk.server.workflow import reconcile_job as reconcile_servers


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
]


def enabled_jobs(settings: Settings) -> list[Job]:
    """The jobs this process takes part in: all but those `STELLWERK_DISABLED_JOBS` names."""
    disabled = set(settings.disabled_job_list)
    unknown = sorted(disabled - {job.name for job in JOBS})
    if unknown:
        raise UnsafeConfiguration(
            f"Refusing to start: STELLWERK_DISABLED_JOBS names no job {', '.join(unknown)}; "
            f"the jobs are {', '.join(job.name for job in JOBS)}"
        )
    return [job for job in JOBS if job.name not in disabled]
