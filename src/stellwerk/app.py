"""The application factory and its lifespan: migrate, first start, workers, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from stellwerk import __version__, exception_handlers, jobs, migrate, workflows
from stellwerk.api import include_routers
from stellwerk.bootstrap import FirstStart, bootstrap
from stellwerk.cluster import service as cluster
from stellwerk.config import Settings, get_settings
from stellwerk.kit.periodic import run_every
from stellwerk.license.fastpath import VerifyFastPath
from stellwerk.middleware import (
    ApiCorsMiddleware,
    FastPaths,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from stellwerk.operation import engine
from stellwerk.runtime import Runtime
from stellwerk.system import service as system_service
from stellwerk.system.router import fast_health

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "web" / "static"

DESCRIPTION = """
Stellwerk runs a hosting and software business: servers at several cloud providers, domains
and DNS, deployments, domain redirects with private analytics, a software license server with
its admin panel and CRM, and a module manager.

Credentials: `Authorization: Bearer <jwt>` from `POST /api/auth/login`, `Authorization: Bearer
nrx_…` API tokens with scopes, the web session cookie, and `X-API-Key` for license clients.
"""


def create_app(
    settings: Settings | None = None,
    *,
    on_first_start: Callable[[FirstStart], None] | None = None,
    listener_urls: dict[str, Any] | None = None,
    serves_http: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    # Hot paths answered in front of the framework: license clients and health checks.
    fast_paths = FastPaths()
    verify_fast_path = VerifyFastPath()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.from_settings(settings)
        jobs.enabled_jobs(settings)  # refuses unknown names before anything starts
        runtime.sandboxes = dict((listener_urls or {}).get("sandboxes", {}))
        app.state.runtime = runtime
        app.state.database = runtime.database
        await migrate.upgrade_async(settings.resolved_database_url)
        report = await bootstrap(runtime)
        app.state.first_start = report
        if on_first_start is not None and report.created_anything:
            on_first_start(report)
        tasks: list[asyncio.Task[None]] = []
        stack = contextlib.AsyncExitStack()
        workflow_engine = engine.configure(settings, workflows.MODULES)
        runtime.engine = workflow_engine
        if settings.workers:
            # Before the engine launches: it may recover a job's run at once. Left (stack) before
            # the engine stops, letting runs in flight finish.
            await stack.enter_async_context(jobs.taking_part(runtime))
            await workflow_engine.launch()
            await jobs.schedule()
            await stack.enter_async_context(
                cluster.membership(runtime.database, settings, engine.recover_executor)
            )
        identity = system_service.ProcessIdentity(
            role=("all" if settings.workers else "api") if serves_http else "worker",
            executor_id=settings.executor_id if settings.workers else None,
            port=settings.port if serves_http else None,
            metrics_address=f"{settings.host}:{settings.port}" if serves_http else None,
        )
        app.state.process_identity = identity
        await system_service.heartbeat(runtime.database, identity)
        tasks.append(
            asyncio.create_task(
                run_every(
                    "system.heartbeat",
                    system_service.HEARTBEAT_SECONDS,
                    partial(system_service.heartbeat, runtime.database, identity),
                )
            )
        )
        if serves_http:  # a worker-only process answers no license clients
            await verify_fast_path.start(runtime)
            verify_fast_path.register(fast_paths)
            fast_paths.add("GET", "/health", fast_health(runtime))
            app.state.license_fast_path = verify_fast_path
            fast_paths.install(app)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await stack.aclose()
            with contextlib.suppress(Exception):  # the database may be gone; the row ages out
                await system_service.leave(runtime.database, identity)
            await workflow_engine.shutdown()
            if serves_http:
                await verify_fast_path.stop()  # flushes buffered bookkeeping
            await runtime.close()

    # The documentation pages serve their scripts themselves: they work offline.
    app = FastAPIOffline(
        title="Stellwerk",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        lifespan=lifespan,
        static_url="/static/api-docs",
        # Paths match exactly: a stray slash is a 404, never a redirect (the web UI's error
        # handler still forgives it for pages, see exception_handlers).
        redirect_slashes=False,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_origin_list:
        app.add_middleware(ApiCorsMiddleware, origins=settings.cors_origin_list)
    app.add_middleware(RequestContextMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    exception_handlers.install(app)
    include_routers(app)
    app.state.fast_paths = fast_paths
    return app
