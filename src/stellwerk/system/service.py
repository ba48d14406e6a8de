from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk import __version__
from stellwerk.database import Database
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
    """This process, and (`installation`) the installation as the database sees it."""
    settings = runtime.settings
    ok = await database_ok(runtime)
    redis = await redis_state(runtime)
    reasons = [] if ok else ["the database is unreachable"]
    if redis["configured"] and not redis["ok"]:
        reasons.append("Redis is unreachable")
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


async def redis_state(runtime: Runtime) -> dict[str, Any]:
    if not runtime.settings.redis_url:
        return {"configured": False, "ok": None}
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            reachable = bool(await runtime.limiter.storage.check())
    except Exception:  # unreachable, refused, timed out: all "not ok"
        reachable = False
    return {"configured": True, "ok": reachable}


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
