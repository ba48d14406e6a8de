"""`/`, `/health`, `/status` and `/metrics`: one answer that satisfies every API document."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Scope

from stellwerk.database import SessionDep
from stellwerk.exceptions import Unauthorized
from stellwerk.identity.auth import RuntimeDep, authenticate
from stellwerk.middleware import Answer, FastHandler
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_responses
from stellwerk.system import service as system_service

router = APIRouter(tags=["service"], responses=error_responses(Surface.GENERIC))


@router.get("/")
async def root(request: Request) -> Any:
    """Service status and the main endpoints. Browsers asking for HTML go to the web UI."""
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "application/json" not in accept:
        return RedirectResponse("/ui/", status_code=307)
    return system_service.overview()


@router.get("/health", responses={503: {"description": "The database is unreachable"}})
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Health check for monitoring and load balancers. The database is asked at most once a
    second, however often this is called."""
    ok, body = await system_service.health(runtime)
    return JSONResponse(body, status_code=200 if ok else 503)


def fast_health(runtime: Runtime) -> FastHandler:
    """The same answer in front of the framework (`middleware.FastPaths`): monitors and load
    balancers poll it, often many at once."""

    async def answer(_scope: Scope, _body: bytes) -> Answer:
        ok, body = await system_service.health(runtime)
        return 200 if ok else 503, orjson.dumps(body), []

    return answer


@router.get("/status")
async def status(request: Request, runtime: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    """System status and configuration (never secrets), and for admins and the metrics token
    the installation: its processes with their last heartbeat, queues, the oldest queued
    operation, and the redirect routing version."""
    return await system_service.status(
        runtime, installation=await _sees_installation(request, runtime, session)
    )


async def _sees_installation(request: Request, runtime: Runtime, session: AsyncSession) -> bool:
    """The installation (hosts, processes, queues) is for admins and monitoring: an admin's
    credential, or the metrics token when one is set. Everyone else gets `installation: null`."""
    authorization = request.headers.get("authorization")
    token_set = runtime.settings.metrics_token is not None
    if token_set and authorization and system_service.metrics_allowed(runtime, authorization):
        return True
    subject = await authenticate(request, session)
    return subject is not None and subject.is_admin


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus metrics: this process's counters and the installation's gauges (computed from
    the database when scraped); restricted to a bearer token when `STELLWERK_METRICS_TOKEN` is
    set."""
    if not system_service.metrics_allowed(runtime, request.headers.get("authorization")):
        raise Unauthorized("Metrics need the configured bearer token")
    return Response(await system_service.metrics_text(runtime), media_type=CONTENT_TYPE_LATEST)


def metrics_only_app(runtime: Runtime) -> Starlette:
    """`/metrics` alone, for a process that answers no other HTTP (a worker)."""

    async def metrics_endpoint(request: StarletteRequest) -> Response:
        if not system_service.metrics_allowed(runtime, request.headers.get("authorization")):
            return PlainTextResponse(
                "Metrics need the configured bearer token",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await system_service.metrics_text(runtime)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics_endpoint, methods=["GET"])])
