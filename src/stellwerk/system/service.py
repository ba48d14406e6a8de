from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from stellwerk import __version__
from stellwerk.kit import shared
from stellwerk.kit.time import iso, utc_now
from stellwerk.operation import engine
from stellwerk.runtime import Runtime

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


async def redis_state(url: str | None) -> tuple[bool | None, str | None]:
    """Whether Redis answers (None: none configured), and why not."""
    if not url:
        return None, None
    client = Redis.from_url(
        url,
        socket_timeout=shared.TIMEOUT_SECONDS,
        socket_connect_timeout=shared.TIMEOUT_SECONDS,
    )
    try:
        await client.ping()
    except shared.REDIS_ERRORS as error:
        return False, f"{type(error).__name__}: {error}"[:300]
    finally:
        await client.aclose()
    return True, None


async def status(runtime: Runtime) -> dict[str, Any]:
    """This process's view. `degraded` with reasons while the database or Redis is away (limits,
    budgets and caches are then per process; see `kit.shared`)."""
    settings = runtime.settings
    ok = await database_ok(runtime)
    redis_ok, redis_error = await redis_state(settings.redis_url)
    reasons: list[str] = []
    if not ok:
        reasons.append("The database is unreachable")
    if redis_ok is False:
        reasons.append(
            "Redis is unreachable: rate limits, provider budgets and catalog caches are "
            "per process until it is back"
        )
    body: dict[str, Any] = {
        "status": "degraded" if reasons else "ok",
        "service": SERVICE_NAME,
        "version": __version__,
        "timestamp": iso(utc_now()),
        "uptime_seconds": round(time.time() - runtime.started_at, 1),
        "database": {"backend": runtime.database.dialect, "ok": ok},
        "workers": {"running": engine.is_launched(), "executor_id": settings.executor_id},
        "rate_limits": {"backend": "redis" if settings.redis_url else "memory"},
        "sandbox": bool(runtime.sandboxes),
        "sandboxes": dict(runtime.sandboxes),
        "redirect_port": settings.redirect_port,
    }
    if settings.redis_url:
        body["redis"] = {"ok": redis_ok, "error": redis_error, "fallbacks": dict(shared.DEGRADED)}
    if reasons:
        body["reasons"] = reasons
    return body
