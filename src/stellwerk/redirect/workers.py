"""The data plane's processes: worker processes on one listening socket, and the hit writer.

`DataPlaneWorkers` binds the socket, forks the workers (they share its accept queue, like
nginx's) and starts one writer process that stores the hits the workers hand to spool files. The
process that owns it replaces a worker that dies (`replace_dead`). `stop()` is the graceful stop:
the workers stop accepting, answer what is under way and spool their last hits; then the writer
stores everything and exits.

Two owners: `stellwerk redirect serve` (the data plane alone, `serve_workers`) and
`stellwerk serve`, whose first process supervises these workers beside the API process
(`stellwerk.serve`). Either way the workers are forked from a process that has started no event
loop, thread or database connection yet: a fork copies only the thread that calls it, and
whatever the others held (locks, connections) would be broken in the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

import uvloop

from stellwerk.config import Settings, refuse_unsafe
from stellwerk.exceptions import StellwerkError
from stellwerk.keyfile import load_or_create_master_key
from stellwerk.kit.http1 import Http1Server
from stellwerk.kit.logs import flush_logs
from stellwerk.kit.ports import PortInUse
from stellwerk.kit.process import cpu_count, die_with_parent, set_process_name
from stellwerk.redirect.barrier import RoutingBarrier
from stellwerk.redirect.counters import DataPlaneCounters, WorkerCounts
from stellwerk.redirect.dataplane import (
    GRACE_SECONDS,
    DataPlane,
    bind_socket,
    spool_writer_process,
)

log = logging.getLogger(__name__)

WRITER_STOP_SECONDS = 120.0  # the writer stores what is spooled, then exits
WRITER_START_SECONDS = 30.0  # a writer that ends sooner could not start
WORKER_NAME = "redirect-worker"  # the process name `ps -o comm` shows


class StartFailed(StellwerkError):
    """A data plane process ended before it was ready: it would only fail again."""

    default_code = "start_failed"


def worker_count(settings: Settings) -> int:
    """`STELLWERK_REDIRECT_WORKERS`, or one per CPU."""
    configured = settings.redirect_workers
    return cpu_count() if configured is None else configured


class DataPlaneWorkers:
    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        workers: int,
        *,
        metrics_port: int | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.count = max(1, workers)
        self.processes: list[BaseProcess] = []
        # Each worker's report line: ("ready", "") once it listens, or ("failed", reason).
        self._reports: dict[int, Connection] = {}
        self._ready: set[int] = set()
        self._reasons: dict[int, str] = {}
        self.sock: socket.socket | None = None
        self.writer: BaseProcess | None = None
        self._writer_stop: Event | None = None
        self._writer_started = 0.0
        self.url = ""
        # Created before any fork: the workers and the API (forked later) share it.
        self.barrier = RoutingBarrier(self.count)
        self.counters = DataPlaneCounters(self.count)
        # Where the writer answers `/metrics` with the counters (`stellwerk redirect serve`;
        # `stellwerk serve` shows them on the API's `/metrics`).
        self.metrics_port = metrics_port
        self.metrics_sock: socket.socket | None = None
        self.metrics_url = ""

    def start(self) -> str:
        """Bind, start the writer and the workers; the data plane's URL."""
        refuse_unsafe(self.settings)
        configured = self.settings.secret_key
        # Created here, not raced for by the workers.
        load_or_create_master_key(
            self.settings.data_dir, configured.get_secret_value() if configured else None
        )
        try:
            self.sock = bind_socket(self.host, self.port)
        except OSError as error:
            raise PortInUse(self.host, self.port, "STELLWERK_REDIRECT_PORT", error) from None
        bound_port = self.sock.getsockname()[1]
        display = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        display = f"[{display}]" if ":" in display else display
        self.url = f"http://{display}:{bound_port}"
        if self.metrics_port is not None:
            try:
                self.metrics_sock = bind_socket(self.host, self.metrics_port)
            except OSError as error:
                raise PortInUse(
                    self.host, self.metrics_port, "STELLWERK_METRICS_PORT", error
                ) from None
            self.metrics_url = f"http://{display}:{self.metrics_sock.getsockname()[1]}/metrics"
        self._start_writer()
        self.processes = [self._start_worker(slot) for slot in range(self.count)]
        return self.url

    def _start_writer(self) -> None:
        # Spawned: a fresh interpreter that imports only what storing hits needs.
        spawn = multiprocessing.get_context("spawn")
        self._writer_stop = spawn.Event()
        self.writer = spawn.Process(
            target=spool_writer_process,
            args=(self.settings, self._writer_stop, self.counters, self.metrics_sock),
            name="stellwerk-hit-writer",
        )
        self.writer.start()
        self._writer_started = time.monotonic()

    def _replace_dead_writer(self) -> None:
        """A writer that ends soon after its start could not start (settings, database): raise
        `StartFailed`. One that ends later is started again; the spool kept its hits."""
        writer = self.writer
        if writer is None or writer.is_alive():
            return
        writer.join(0)
        if time.monotonic() - self._writer_started < WRITER_START_SECONDS:
            raise StartFailed(
                f"The redirect hit writer could not start: exit code {writer.exitcode} "
                "(its log says why)"
            )
        log.warning("the hit writer exited (%s); starting another", writer.exitcode)
        self._start_writer()

    def _start_worker(self, slot: int) -> BaseProcess:
        # Forked, not spawned: the children inherit the listening socket, the imported code and
        # the barrier's shared memory.
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=run_worker,
            args=(
                self.settings,
                self.sock,
                os.getpid(),
                writer,
                self.barrier,
                slot,
                self.counters,
            ),
            name="stellwerk-redirect-worker",
        )
        process.start()
        writer.close()
        self._reports[id(process)] = reader
        return process

    def _start_report(self, process: BaseProcess) -> tuple[bool, str]:
        """Whether the worker said it was ready, and the reason it gave if it failed."""
        reader = self._reports.get(id(process))
        while reader is not None:
            try:
                if not reader.poll():
                    break
                state, detail = reader.recv()
            except (EOFError, OSError):
                break
            if state == "ready":
                self._ready.add(id(process))
            else:
                self._reasons[id(process)] = str(detail)
        return id(process) in self._ready, self._reasons.get(id(process), "")

    def _forget(self, process: BaseProcess) -> None:
        reader = self._reports.pop(id(process), None)
        if reader is not None:
            reader.close()
        self._ready.discard(id(process))
        self._reasons.pop(id(process), None)

    @property
    def sentinels(self) -> list[int]:
        writer = [self.writer.sentinel] if self.writer is not None else []
        return [p.sentinel for p in self.processes] + writer

    def replace_dead(self) -> None:
        """Start a worker in place of each that died while serving or was killed. One that ended
        by itself before it was ready could not start (settings, database): raise `StartFailed`
        with its reason. The hit writer likewise."""
        self._replace_dead_writer()
        for index, process in enumerate(self.processes):
            ready, reason = self._start_report(process)
            if process.is_alive():
                continue
            process.join(0)
            # Ended by itself before it was ready: it could not start, and would only fail
            # again. Killed by a signal (the OOM killer, an operator): started again.
            killed = process.exitcode is not None and process.exitcode < 0
            if not ready and (reason or not killed):
                reason = reason or f"exit code {process.exitcode}"
                raise StartFailed(f"A redirect data plane worker could not start: {reason}")
            log.warning(
                "redirect worker %s exited (%s); starting another", process.pid, process.exitcode
            )
            self._forget(process)
            self.processes[index] = self._start_worker(index)

    def signal_workers(self) -> None:
        """Ask every worker to stop (gracefully); `stop()` waits for them."""
        for process in self.processes:
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """The graceful stop: the workers answer what is under way and hand over their last
        hits, then the writer stores every spooled hit and exits."""
        self.signal_workers()
        for process in self.processes:
            process.join(GRACE_SECONDS + 15)
            if process.is_alive():
                process.kill()
                process.join(5)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        # Only now: the workers have handed over their last hits.
        if self._writer_stop is not None and self.writer is not None:
            self._writer_stop.set()
            self.writer.join(WRITER_STOP_SECONDS)
            if self.writer.is_alive():
                log.error("the hit writer did not finish; the spool keeps what is left")
                self.writer.kill()
                self.writer.join(5)
        if self.metrics_sock is not None:
            self.metrics_sock.close()
            self.metrics_sock = None


class StopSignals:
    """SIGINT and SIGTERM set `stopping` (installed with `signal.signal`, no event loop)."""

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[int, object] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def serve_workers(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    on_ready: Callable[[DataPlaneWorkers], None] | None = None,
) -> None:
    """`stellwerk redirect serve`: run until SIGINT/SIGTERM; returns once every hit is stored or
    spooled. A worker that cannot start stops them all (`StartFailed`). The writer answers
    `/metrics` on `STELLWERK_METRICS_PORT` when it is set."""
    plane = DataPlaneWorkers(settings, host, port, workers, metrics_port=settings.metrics_port)
    with StopSignals() as signals:
        plane.start()
        if on_ready is not None:
            on_ready(plane)
        try:
            while not signals.stopping:
                multiprocessing.connection.wait(plane.sentinels, timeout=0.5)
                if not signals.stopping:
                    plane.replace_dead()
        finally:
            plane.stop()


def run_worker(
    settings: Settings,
    sock: socket.socket,
    parent: int,
    report: Connection | None = None,
    barrier: RoutingBarrier | None = None,
    slot: int = 0,
    counters: DataPlaneCounters | None = None,
) -> None:
    """One worker process: its own event loop, routing table and spool hand-off."""
    # Until the loop takes over: SIGINT and SIGTERM simply end a worker that is still starting
    # (the parent's handlers, inherited, would only set the parent's flag in this copy).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A parent killed outright leaves no one to stop the workers: they stop gracefully.
    die_with_parent(parent, signal.SIGTERM)
    set_process_name(WORKER_NAME)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(settings, sock, report, barrier, slot, counters))
    except Exception as error:
        log.exception("redirect worker failed")
        _report(report, "failed", one_line(error))
        raise
    finally:
        loop.close()
        flush_logs()  # a forked process ends with os._exit: no flush at exit


def one_line(error: BaseException) -> str:
    """An error as one line for an operator: its type and first line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _report(report: Connection | None, state: str, detail: str) -> None:
    if report is not None:
        with contextlib.suppress(OSError, ValueError):
            report.send((state, detail))


async def _serve(
    settings: Settings,
    sock: socket.socket,
    report: Connection | None,
    barrier: RoutingBarrier | None,
    slot: int,
    counters: DataPlaneCounters | None,
) -> None:
    plane = DataPlane.from_settings(settings, spool=True)
    plane.barrier, plane.barrier_slot = barrier, slot
    if counters is not None:
        plane.counts = WorkerCounts(counters, slot)
    await plane.start()
    plane.freeze_heap()
    server = Http1Server(plane.respond)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Any number of SIGINT/SIGTERM is one graceful stop: Ctrl+C reaches the whole process
    # group, and the parent passes the stop on as well.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.listen(sock)
        _report(report, "ready", "")
        await stop.wait()
    finally:
        await server.shutdown(GRACE_SECONDS)
        await plane.stop()
