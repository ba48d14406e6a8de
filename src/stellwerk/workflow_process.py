"""`stellwerk serve`'s workflow worker: the workflow engine and the periodic jobs in a process
of their own, beside the API process.

The engine polls its queues and fires its schedules from threads of its own. In the API
process those threads take turns with the event loop for the interpreter lock many times a
second, and every turn is a stall for the requests waiting on the loop. So `serve` forks this
process once the API is ready, hands it the addresses of the API process's provider sandboxes,
and the API process only enqueues (through the engine's client), as an API process of a scaled
out installation does. A worker that dies is started again; it recovers its unfinished
workflows (the same executor id) when it starts.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvloop

from stellwerk.config import Settings
from stellwerk.kit.logs import flush_logs
from stellwerk.kit.process import die_with_parent, set_process_name

log = logging.getLogger(__name__)

PROCESS_NAME = "workflow-worker"  # the process name `ps -o comm` shows
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # after the 1st, 2nd, ... death in a row
STEADY_SECONDS = 60.0  # a worker that ran this long resets the delays


class WorkflowProcess:
    """The supervisor's handle on the workflow worker (no thread, no event loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: BaseProcess | None = None
        self._sandboxes: dict[str, Any] = {}
        self._started_at = 0.0
        self._deaths = 0
        self._next_start = 0.0

    @property
    def sentinels(self) -> list[int]:
        process = self.process
        return [process.sentinel] if process is not None and process.is_alive() else []

    def start(self, sandboxes: dict[str, Any]) -> None:
        self._sandboxes = dict(sandboxes)
        process = multiprocessing.get_context("fork").Process(
            target=_worker_main,
            args=(self.settings, self._sandboxes, os.getpid()),
            name=PROCESS_NAME,
        )
        process.start()
        self.process = process
        self._started_at = time.monotonic()

    def replace_dead(self) -> None:
        """Start another worker in place of one that ended, after a delay growing with each
        death in a row."""
        process = self.process
        if process is None:
            return
        if process.is_alive():
            if time.monotonic() - self._started_at > STEADY_SECONDS:
                self._deaths = 0
            return
        now = time.monotonic()
        if not self._next_start:
            process.join(0)
            delay = RESTART_DELAYS[min(self._deaths, len(RESTART_DELAYS) - 1)]
            self._deaths += 1
            self._next_start = now + delay
            log.error(
                "the workflow worker %s exited (%s); starting another in %.0f s",
                process.pid,
                process.exitcode,
                delay,
            )
        if now >= self._next_start:
            self._next_start = 0.0
            self.start(self._sandboxes)

    def signal_stop(self) -> None:
        process = self.process
        if process is not None and process.is_alive() and process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)

    def join(self, seconds: float) -> None:
        process = self.process
        if process is None:
            return
        process.join(seconds)
        if process.is_alive():
            log.error("the workflow worker did not stop in %.0f s; killing it", seconds)
            process.kill()
            process.join(5)


def _worker_main(settings: Settings, sandboxes: dict[str, Any], parent: int) -> None:
    # The supervisor's handlers were inherited; until the worker installs its own, a signal
    # ends this process as it would any other.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent(parent, signal.SIGKILL)
    set_process_name(PROCESS_NAME)
    from stellwerk.serve import serve_worker  # serve imports this module

    try:
        uvloop.run(serve_worker(settings, sandboxes=sandboxes))
    finally:
        flush_logs()  # a forked process ends with os._exit: no flush at exit
