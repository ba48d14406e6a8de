"""`stellwerk serve`: the API with its workers, plus every listener a feature adds, in one process.

Features add listeners (the redirect data plane, the provider sandboxes) to `LISTENERS`; each is
started before the API and stopped after it.

Scaled out (`STELLWERK_ROLE`), a process takes one part: `api` answers HTTP and enqueues
operations for the workers; `worker` runs the workflow engine and the periodic jobs without
listening anywhere. Neither starts the listeners: the redirect data plane runs alone
(`stellwerk redirect serve`), and in sandbox mode both use the sandboxes of `stellwerk sandbox`
on `STELLWERK_SANDBOX_PORT` (processes cannot share one in-process sandbox's state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn

from stellwerk.app import create_app
from stellwerk.bootstrap import FirstStart
from stellwerk.config import Settings
from stellwerk.kit.bounded_http import BoundedHeadProtocol
from stellwerk.provider.sandbox.listener import sandbox_listener, urls_at
from stellwerk.redirect.dataplane import redirect_listener

log = logging.getLogger(__name__)

# A listener gets the settings and a dict to report its URLs into (key: name, value: URL).
Listener = Callable[[Settings, dict[str, Any]], AbstractAsyncContextManager[None]]
LISTENERS: list[Listener] = [sandbox_listener, redirect_listener]


async def serve(
    settings: Settings,
    *,
    on_first_start: Callable[[FirstStart], None] | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    if settings.role == "worker":
        await serve_worker(settings, on_first_start=on_first_start, on_ready=on_ready)
        return
    listeners = LISTENERS
    if settings.role == "api":
        settings = settings.model_copy(update={"workers": False})
        listeners = [sandboxes_elsewhere]
    urls: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        for listener in listeners:
            await stack.enter_async_context(listener(settings, urls))
        app = create_app(settings, on_first_start=on_first_start, listener_urls=urls)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            http=BoundedHeadProtocol,
            # X-Forwarded-For only from the configured proxies (by default from no one).
            proxy_headers=bool(settings.trusted_proxy_list),
            forwarded_allow_ips=settings.trusted_proxy_list or None,
            timeout_graceful_shutdown=10,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        urls["api"] = f"http://{_display_host(settings.host)}:{settings.port}"
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started and on_ready is not None:
            on_ready(urls)
        await task


async def serve_worker(
    settings: Settings,
    *,
    on_first_start: Callable[[FirstStart], None] | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """The workflow engine and the periodic jobs, until SIGTERM or SIGINT."""
    settings = settings.model_copy(update={"workers": True})
    urls: dict[str, Any] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with sandboxes_elsewhere(settings, urls):
            app = create_app(
                settings, on_first_start=on_first_start, listener_urls=urls, serves_http=False
            )
            async with app.router.lifespan_context(app):
                urls["executor_id"] = settings.executor_id
                if on_ready is not None:
                    on_ready(urls)
                await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


@asynccontextmanager
async def sandboxes_elsewhere(settings: Settings, urls: dict[str, Any]) -> AsyncIterator[None]:
    """In sandbox mode, point this process at the sandboxes of `stellwerk sandbox`."""
    if settings.sandbox_enabled and settings.sandbox_port:
        urls["sandboxes"] = urls_at(settings)
    yield


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
