"""`stellwerk serve`: the API with its workers and every listener a feature adds, and the redirect
data plane in worker processes of its own.

The first process (`run`) is a supervisor that starts no event loop, thread or connection: it
migrates, binds the data plane's socket, forks its workers (`redirect.workers`) and then the API
process, replaces a data plane worker that dies, and on SIGINT or SIGTERM stops them all
gracefully (the API, then the data plane's last hits). The API process answers no redirect.

In the API process, features add listeners (the provider sandboxes) to `LISTENERS`; each is
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
import dataclasses
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from stellwerk import migrate
from stellwerk.app import create_app
from stellwerk.bootstrap import FirstStart
from stellwerk.config import Settings
from stellwerk.fast_protocol import fast_protocol
from stellwerk.kit.bounded_http import BoundedHeadProtocol
from stellwerk.kit.logs import flush_logs
from stellwerk.kit.ports import ensure_free
from stellwerk.kit.process import die_with_parent, set_process_name
from stellwerk.middleware import FastPathMiddleware
from stellwerk.provider.sandbox.listener import ports as sandbox_ports
from stellwerk.provider.sandbox.listener import sandbox_listener, urls_at
from stellwerk.redirect import barrier, counters
from stellwerk.redirect.workers import DataPlaneWorkers, StartFailed, StopSignals, worker_count
from stellwerk.runtime import Runtime
from stellwerk.system import service as system_service
from stellwerk.system.router import metrics_only_app
from stellwerk.workflow_process import WorkflowProcess

log = logging.getLogger(__name__)

# A listener gets the settings and a dict to report its URLs into (key: name, value: URL).
Listener = Callable[[Settings, dict[str, Any]], AbstractAsyncContextManager[None]]
LISTENERS: list[Listener] = [sandbox_listener]
API_STOP_SECONDS = 60.0  # uvicorn's 10 s for requests under way, then the workflow engine
OnFirstStart = Callable[[FirstStart], None] | None
OnReady = Callable[[dict[str, Any]], None] | None


def ensure_ports_free(settings: Settings) -> None:
    """Before anything starts: every fixed port this process is to listen on is free, or
    `PortInUse` names the first one taken and its setting."""
    wanted: list[tuple[str, int, str]] = []
    if settings.role != "worker":
        wanted.append((settings.host, settings.port, "STELLWERK_PORT"))
    if settings.role == "all" and worker_count(settings):
        wanted.append((settings.host, settings.redirect_port, "STELLWERK_REDIRECT_PORT"))
    if settings.role == "all" and settings.sandbox_enabled:
        wanted += [("127.0.0.1", p, "STELLWERK_SANDBOX_PORT") for p in sandbox_ports(settings)]
    for host, port, setting in wanted:
        ensure_free(host, port, setting)


def run(
    settings: Settings, *, on_first_start: OnFirstStart = None, on_ready: OnReady = None
) -> int:
    """`stellwerk serve` until SIGINT or SIGTERM; the exit code. A fixed port that is taken
    raises `PortInUse` before anything starts."""
    ensure_ports_free(settings)
    workers = worker_count(settings) if settings.role == "all" else 0
    if workers == 0:  # scaled out, or asked for no data plane: this process is the API
        uvloop.run(serve(settings, on_first_start=on_first_start, on_ready=on_ready))
        return 0
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The workers' first read needs the tables (the API process migrates again: a no-op).
    migrate.upgrade(settings.resolved_database_url)
    plane = DataPlaneWorkers(settings, settings.host, settings.redirect_port, workers)
    # The workflow engine runs in a worker process of its own, started once the API is ready
    # (`workflow_process`); the API process only enqueues.
    engine_worker = WorkflowProcess(settings) if settings.workers else None
    api_settings = settings.model_copy(update={"workers": False}) if engine_worker else settings
    failed: str | None = None
    with StopSignals() as signals:
        redirect_url = plane.start()
        # The API waits for the workers to serve each routing change (`redirect.barrier`).
        barrier.ACTIVE = plane.barrier
        # ... and shows their counters on its /metrics (`redirect.counters`).
        counters.ACTIVE = plane.counters
        ready, ready_in_api = multiprocessing.Pipe(duplex=False)
        api = multiprocessing.get_context("fork").Process(
            target=_api_process,
            args=(api_settings, redirect_url, os.getpid(), on_first_start, on_ready, ready_in_api),
            name="stellwerk-api",
        )
        api.start()
        ready_in_api.close()
        try:
            while not signals.stopping and api.is_alive():
                waiting: list[Any] = [api.sentinel, *plane.sentinels]
                if engine_worker is not None:
                    waiting += [ready] if engine_worker.process is None else engine_worker.sentinels
                for done in multiprocessing.connection.wait(waiting, timeout=0.5):
                    if done is ready and engine_worker is not None:
                        with contextlib.suppress(EOFError):  # the API ended before it was ready
                            engine_worker.start(ready.recv())
                if not signals.stopping and api.is_alive():
                    plane.replace_dead()
                    if engine_worker is not None:
                        engine_worker.replace_dead()
        except StartFailed as error:
            failed = error.message
        finally:
            # All stop at once; the data plane's writer stores the last hits after its workers.
            if api.is_alive() and api.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(api.pid, signal.SIGTERM)
            if engine_worker is not None:
                engine_worker.signal_stop()
            plane.stop()
            api.join(API_STOP_SECONDS)
            if api.is_alive():
                log.error("the API process did not stop in %.0f s; killing it", API_STOP_SECONDS)
                api.kill()
                api.join(5)
            if engine_worker is not None:
                engine_worker.join(API_STOP_SECONDS)
            ready.close()
    if failed is not None:
        log.error("%s; stopping Stellwerk", failed)
        _say(failed)
        return 1
    code = api.exitcode or 0
    if code and not signals.stopping:
        reason = f"The API process exited with code {code} (its log says why)"
        log.error("%s; stopping Stellwerk", reason)
        _say(reason)
    return code if code > 0 else (1 if code else 0)


def _say(reason: str) -> None:
    """The reason on stderr too, where whoever started `stellwerk serve` looks first."""
    with contextlib.suppress(OSError):
        os.write(2, f"error: {reason}\n".encode())


def _api_process(
    settings: Settings,
    redirect_url: str,
    parent: int,
    on_first_start: OnFirstStart,
    on_ready: OnReady,
    ready: multiprocessing.connection.Connection,
) -> None:
    # The supervisor's handlers were inherited; until serve() installs its own, a signal ends
    # this process as it would any other.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # A supervisor killed outright (a crash): so is the API, as a single process would be.
    die_with_parent(parent, signal.SIGKILL)
    set_process_name("stellwerk-api")
    if counters.ACTIVE is not None:
        counters.expose(counters.ACTIVE)

    def report_ready(urls: dict[str, Any]) -> None:
        # The supervisor starts the workflow worker with the sandboxes' addresses.
        ready.send(dict(urls.get("sandboxes", {})))
        ready.close()
        if on_ready is not None:
            on_ready(urls)

    try:
        uvloop.run(
            serve(
                settings,
                on_first_start=on_first_start,
                on_ready=report_ready,
                redirect_url=redirect_url,
            )
        )
    finally:
        flush_logs()  # a forked process ends with os._exit: no flush at exit


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` owns SIGINT and SIGTERM, so that the
    listeners stop after the API (uvicorn re-raises the signal once stopped, which would end the
    process before they do)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(
    settings: Settings,
    *,
    on_first_start: OnFirstStart = None,
    on_ready: OnReady = None,
    redirect_url: str | None = None,
) -> None:
    if settings.role == "worker":
        await serve_worker(settings, on_first_start=on_first_start, on_ready=on_ready)
        return
    listeners = LISTENERS
    if settings.role == "api":
        settings = settings.model_copy(update={"workers": False})
        listeners = [sandboxes_elsewhere]
    urls: dict[str, Any] = {}
    if redirect_url:
        urls["redirect"] = redirect_url
    async with contextlib.AsyncExitStack() as stack:
        for listener in listeners:
            await stack.enter_async_context(listener(settings, urls))
        app = create_app(settings, on_first_start=on_first_start, listener_urls=urls)
        proxied = bool(settings.trusted_proxy_list)
        config = uvicorn.Config(
            # The fast paths (license clients, /health) even before the framework's entry.
            FastPathMiddleware(app, app.state.fast_paths),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            # The fast paths answered in the protocol; behind trusted proxies the client's address
            # comes from their headers (uvicorn's middleware): there, as an ASGI middleware.
            http=BoundedHeadProtocol if proxied else fast_protocol(app.state.fast_paths),
            # X-Forwarded-For only from the configured proxies (by default from no one).
            proxy_headers=proxied,
            forwarded_allow_ips=settings.trusted_proxy_list or None,
            timeout_graceful_shutdown=10,
            lifespan="on",
        )
        server = _Server(config)
        urls["api"] = f"http://{_display_host(settings.host)}:{settings.port}"
        loop = asyncio.get_running_loop()

        def stop() -> None:  # any number of signals: one graceful stop
            server.should_exit = True

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        stack.callback(_remove_signal_handlers, loop)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started:
            _freeze_heap()
            if on_ready is not None:
                on_ready(urls)
        await task


def _freeze_heap() -> None:
    """Everything loaded at start lives as long as the process: move it out of the collector's
    sight, or each full collection walks the whole app (hundreds of milliseconds with the
    workflow engine and every router loaded: the p99 stalls under load)."""
    gc.collect()
    gc.freeze()


def _remove_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)


async def serve_worker(
    settings: Settings,
    *,
    on_first_start: Callable[[FirstStart], None] | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    sandboxes: dict[str, Any] | None = None,
) -> None:
    """The workflow engine and the periodic jobs, until SIGTERM or SIGINT. `sandboxes`: the
    addresses of the provider sandboxes (`stellwerk serve`'s API process holds them); without
    them, those of `stellwerk sandbox` in sandbox mode."""
    settings = settings.model_copy(update={"workers": True})
    urls: dict[str, Any] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if sandboxes:
        urls["sandboxes"] = sandboxes
    try:
        async with contextlib.nullcontext() if sandboxes else sandboxes_elsewhere(settings, urls):
            app = create_app(
                settings, on_first_start=on_first_start, listener_urls=urls, serves_http=False
            )
            async with app.router.lifespan_context(app), metrics_listener(app, settings, urls):
                urls["executor_id"] = settings.executor_id
                if on_ready is not None:
                    on_ready(urls)
                await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


@asynccontextmanager
async def metrics_listener(
    app: FastAPI, settings: Settings, urls: dict[str, Any]
) -> AsyncIterator[None]:
    """`/metrics` on `STELLWERK_METRICS_PORT`, for a worker (which answers no other HTTP)."""
    if settings.metrics_port is None:
        yield
        return
    runtime: Runtime = app.state.runtime
    config = uvicorn.Config(
        metrics_only_app(dataclasses.replace(runtime, settings=settings)),
        host=settings.host,
        port=settings.metrics_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if task.done():  # could not bind: the reason is the task's exception (or exit)
        task.result()
        raise RuntimeError(f"/metrics could not listen on port {settings.metrics_port}")
    port = server.servers[0].sockets[0].getsockname()[1]
    address = f"{_display_host(settings.host)}:{port}"
    urls["metrics"] = f"http://{address}/metrics"
    identity: system_service.ProcessIdentity = app.state.process_identity
    identity.metrics_address = address
    await system_service.heartbeat(runtime.database, identity)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def sandboxes_elsewhere(settings: Settings, urls: dict[str, Any]) -> AsyncIterator[None]:
    """In sandbox mode, point this process at the sandboxes of `stellwerk sandbox`."""
    if settings.sandbox_enabled and settings.sandbox_port:
        urls["sandboxes"] = urls_at(settings)
    yield


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host
