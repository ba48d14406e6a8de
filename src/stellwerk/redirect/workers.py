"""`stellwerk redirect serve`: worker processes on one listening socket, and the hit writer.

The parent binds the socket, forks the workers (they share its accept queue, like nginx's) and
starts one writer process that stores the hits the workers hand to spool files. It restarts a
worker that dies. SIGINT or SIGTERM stops it gracefully: the workers stop accepting, answer what
is under way and spool their last hits; then the writer stores everything and exits.
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
from multiprocessing.process import BaseProcess
from types import FrameType

import uvloop

from stellwerk.config import Settings
from stellwerk.keyfile import load_or_create_master_key
from stellwerk.kit.http1 import Http1Server
from stellwerk.redirect.dataplane import (
    GRACE_SECONDS,
    DataPlane,
    bind_socket,
    spool_writer_process,
)

log = logging.getLogger(__name__)


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run until SIGINT/SIGTERM; returns once every hit is stored or spooled."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    load_or_create_master_key(settings.data_dir, configured)  # not raced for by the workers
    sock = bind_socket(host, port)
    spawn = multiprocessing.get_context("spawn")
    writer_stop = spawn.Event()
    writer = spawn.Process(
        target=spool_writer_process, args=(writer_stop,), name="stellwerk-hit-writer"
    )
    writer.start()
    # Forked, not spawned: the children inherit the listening socket and the imported code.
    fork = multiprocessing.get_context("fork")

    def start_worker() -> BaseProcess:
        process = fork.Process(
            target=run_worker, args=(settings, sock), name="stellwerk-redirect-worker"
        )
        process.start()
        return process

    processes = [start_worker() for _ in range(workers)]
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
            for index, process in enumerate(processes):
                if not stopping and not process.is_alive():
                    log.warning(
                        "redirect worker %s exited (%s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    processes[index] = start_worker()
    finally:
        for process in processes:
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(GRACE_SECONDS + 15)
            if process.is_alive():
                process.kill()
                process.join(5)
        sock.close()
        # Only now: the workers have handed over their last hits.
        writer_stop.set()
        writer.join(120)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_worker(settings: Settings, sock: socket.socket) -> None:
    """One worker process: its own event loop, routing table and spool hand-off."""
    # Until the loop takes over: Ctrl+C reaches the whole process group and the parent stops
    # the workers itself; SIGTERM before serving simply ends the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(settings, sock))
    finally:
        loop.close()


async def _serve(settings: Settings, sock: socket.socket) -> None:
    plane = DataPlane.from_settings(settings, spool=True)
    await plane.start()
    plane.freeze_heap()
    server = Http1Server(plane.respond)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.listen(sock)
        await stop.wait()
    finally:
        await server.shutdown(GRACE_SECONDS)
        await plane.stop()
