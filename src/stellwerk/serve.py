"""`stellwerk serve`: the API with its workers, plus every listener a feature adds, in one process.

Features add listeners (the redirect data plane, the provider sandboxes) to `LISTENERS`; each is
started before the API and stopped after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn

from stellwerk.app import create_app
from stellwerk.bootstrap import FirstStart
from stellwerk.config import Settings
from stellwerk.provider.sandbox.listener import sandbox_listener
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
    urls: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        for listener in LISTENERS:
            await stack.enter_async_context(listener(settings, urls))
        app = create_app(settings, on_first_start=on_first_start, listener_urls=urls)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
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


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
