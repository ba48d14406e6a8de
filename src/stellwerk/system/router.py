"""`/`, `/health`, `/status` and `/metrics`: one answer that satisfies every API document."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Scope

from stellwerk.exceptions import Unauthorized
from stellwerk.identity.auth import RuntimeDep
from stellwerk.kit.secret import tokens_equal
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
async def status(runtime: RuntimeDep) -> dict[str, Any]:
    """System status and configuration (never secrets)."""
    return await system_service.status(runtime)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus metrics; restricted to a bearer token when `STELLWERK_METRICS_TOKEN` is set."""
    required = runtime.settings.metrics_token
    if required is not None:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not sent or not tokens_equal(sent, required.get_secret_value()):
            raise Unauthorized("Metrics need the configured bearer token")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
