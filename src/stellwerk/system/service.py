from __future__ import annotations

import time
from typing import Any

from stellwerk import __version__
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


async def status(runtime: Runtime) -> dict[str, Any]:
    settings = runtime.settings
    ok = await database_ok(runtime)
    return {
        "status": "ok" if ok else "degraded",
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
