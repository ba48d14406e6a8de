from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from prometheus_client import generate_latest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk import __version__
from stellwerk.database import Database
from stellwerk.kit import shared
from stellwerk.kit.secret import tokens_equal
from stellwerk.kit.time import as_utc, iso, utc_now
from stellwerk.license.service import refresh_license_gauges
from stellwerk.operation import engine
from stellwerk.redirect.repository import RoutingStateRepository
from stellwerk.runtime import Runtime
from stellwerk.system import metrics
from stellwerk.system.heartbeat import (
    ALIVE_SECONDS,
    HEARTBEAT_SECONDS,
    ProcessIdentity,
    heartbeat,
    leave,
)
from stellwerk.system.repository import HeartbeatRepository, InstallationRepository

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 1.0

SERVICE_NAME = "Stellwerk"

ENDPOINTS = {
    "docs": "/api/docs",
    "redoc": "/api/redoc",
    "openapi": "/api/openapi.json",
    "health": "/health",
    "status": "/status",
    "metrics": "/metrics",
    "identity": "/api/auth/login",
    "operations": "/api/operations",
}


async def database_ok(runtime: Runtime) -> bool:
    return await runtime.database.reachable()


def overview() -> dict[str, Any]:
    return {
        "status": "ok",
        "service": SERVICE_NAME,
        "version": __version__,
        "timestamp": iso(utc_now()),
        "endpoints": ENDPOINTS,
    }


async def health(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    ok = await database_ok(runtime)
    return ok, {
        "status": "healthy" if ok else "unhealthy",
        "timestamp": iso(utc_now()),
        "checks": {"database": "ok" if ok else "unavailable"},
    }


async def status(runtime: Runtime, *, installation: bool = True) -> dict[str, Any]:
    """This process, and (`installation`) the installation as the database sees it. `degraded`
    with reasons while the database or Redis is away (limits, budgets and caches are then per
    process; see `kit.shared`)."""
    settings = runtime.settings
    ok = await database_ok(runtime)
    redis = await redis_state(settings.redis_url)
    reasons = [] if ok else ["the database is unreachable"]
    if redis["ok"] is False:
        reasons.append(REDIS_AWAY)
    state: dict[str, Any] | None = None
    if ok and installation:
        try:
            state = await installation_state(runtime.database)
        except Exception as error:  # the database went away between the checks
            log.warning("installation state unavailable: %s", type(error).__name__)
            reasons.append("the installation's state could not be read")
    return {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "service": SERVICE_NAME,
        "version": __version__,
        "timestamp": iso(utc_now()),
        "uptime_seconds": round(time.time() - runtime.started_at, 1),
        "database": {"backend": runtime.database.dialect, "ok": ok},
        "redis": redis,
        "workers": {"running": engine.is_launched(), "executor_id": settings.executor_id},
        "rate_limits": {"backend": "redis" if settings.redis_url else "memory"},
        "sandbox": bool(runtime.sandboxes),
        "sandboxes": dict(runtime.sandboxes),
        "redirect_port": settings.redirect_port,
        "installation": state,
    }


REDIS_AWAY = (
    "Redis is unreachable: rate limits, provider budgets and catalog caches are per process "
    "until it is back"
)

REDIS_CHECK_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *shared.REDIS_ERRORS)


async def redis_state(url: str | None) -> dict[str, Any]:
    """Whether Redis answers (`ok` None: none configured), why not, and what this process does
    on its own meanwhile (`fallbacks`)."""
    if not url:
        return {"configured": False, "ok": None}
    client = Redis.from_url(
        url,
        socket_timeout=shared.TIMEOUT_SECONDS,
        socket_connect_timeout=shared.TIMEOUT_SECONDS,
    )
    error: str | None = None
    try:
        async with asyncio.timeout(REDIS_TIMEOUT * 2):
            await client.ping()
    except REDIS_CHECK_ERRORS as failure:
        error = f"{type(failure).__name__}: {failure}"[:300]
    finally:
        await client.aclose()
    return {
        "configured": True,
        "ok": error is None,
        "error": error,
        "fallbacks": dict(shared.DEGRADED),
    }


async def installation_state(database: Database) -> dict[str, Any]:
    """What every process of the installation shares: its processes, queues and routing."""
    now = utc_now()
    async with database.session() as session:
        processes = await HeartbeatRepository(session).seen_since(
            now - dt.timedelta(seconds=ALIVE_SECONDS)
        )
        counts = await _operation_counts(session, now)
        routing_version = await RoutingStateRepository(session).version()
    return {
        "processes": [
            {
                "id": p.process_id,
                "role": p.role,
                "hostname": p.hostname,
                "pid": p.pid,
                "version": p.version,
                "executor_id": p.executor_id,
                "metrics": p.metrics_address,
                "routing_version": p.routing_version,
                "started_at": iso(p.started_at),
                "last_heartbeat": iso(p.seen_at),
                "seconds_since_heartbeat": round((now - as_utc(p.seen_at)).total_seconds(), 1),
            }
            for p in processes
        ],
        "workers_alive": sum(1 for p in processes if p.role in ("worker", "all")),
        "api_processes_alive": sum(1 for p in processes if p.role in ("api", "all")),
        "redirect_workers_alive": sum(1 for p in processes if p.role == "redirect"),
        **counts,
        "redirect_routing_version": routing_version,
    }


async def _operation_counts(session: AsyncSession, now: dt.datetime) -> dict[str, Any]:
    repository = InstallationRepository(session)
    by_status = await repository.operations_by_status()
    oldest = await repository.oldest_queued()
    return {
        "operations": {s: by_status.get(s, 0) for s in ("queued", "running", "waiting")},
        "queued_by_kind": await repository.operations_by_kind("queued"),
        "queues": await repository.workflow_queues(),
        "oldest_queued_operation": None
        if oldest is None
        else {
            "id": str(oldest.id),
            "kind": oldest.kind,
            "queued_at": iso(oldest.created_at),
            "age_seconds": round((now - as_utc(oldest.created_at)).total_seconds(), 1),
        },
    }


# --- Metrics --------------------------------------------------------------------------------


async def refresh_installation_gauges(database: Database) -> None:
    """Set the installation's gauges from the database, at scrape time: every process answers
    the same numbers."""
    now = utc_now()
    async with database.session() as session:
        alive = await HeartbeatRepository(session).count_since(
            now - dt.timedelta(seconds=ALIVE_SECONDS)
        )
        counts = await _operation_counts(session, now)
        routing_version = await RoutingStateRepository(session).version()
    metrics.set_installation(
        alive=alive,
        operations=counts["operations"],
        queued_by_kind=counts["queued_by_kind"],
        queues=counts["queues"],
        oldest_age=(counts["oldest_queued_operation"] or {}).get("age_seconds", 0.0),
        routing_version=routing_version,
    )


def metrics_allowed(runtime: Runtime, authorization: str | None) -> bool:
    """`STELLWERK_METRICS_TOKEN`, when set, as a bearer token."""
    required = runtime.settings.metrics_token
    if required is None:
        return True
    sent = (authorization or "").removeprefix("Bearer ").strip()
    return bool(sent) and tokens_equal(sent, required.get_secret_value())


async def metrics_text(runtime: Runtime) -> bytes:
    """The Prometheus exposition: this process's counters and the installation's gauges, read
    from the database now (the last values stay when it cannot be read)."""
    try:
        async with asyncio.timeout(5.0):
            await refresh_installation_gauges(runtime.database)
            await refresh_license_gauges(runtime.database.engine)
    except Exception as error:
        log.warning("installation gauges not refreshed: %s", type(error).__name__)
    return generate_latest()


__all__ = ["HEARTBEAT_SECONDS", "ProcessIdentity", "heartbeat", "leave"]
