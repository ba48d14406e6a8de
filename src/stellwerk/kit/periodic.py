"""Repeating work: loops each process runs for itself, and the bookkeeping of runs that a
schedule shared by several processes hands to this one.

`run_every` repeats a job in this process (heartbeats); it survives the job's failures.
Stopping it (cancelling the loop) lets a run in flight finish first, for up to
`STOP_GRACE_SECONDS`: a database call cancelled halfway can leave its connection in a
transaction (SQLite then keeps its write lock until the abandoned statement is garbage-collected,
and every other writer of the process waits).

`Runs` does the same for runs started by someone else (the workflow engine's schedules): one run
per name at a time, none once stopping, and `stop` waits for those in flight. `cron_every` is the
cron expression (seconds first) of a fixed interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


async def run_every(name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await _finish_when_stopped(job())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed", extra={"job": name})
        await asyncio.sleep(seconds)


async def _finish_when_stopped(run: Awaitable[object]) -> None:
    """Await `run`; when cancelled meanwhile, give it `STOP_GRACE_SECONDS` to end by itself
    before cancelling it, then pass the cancellation on."""
    task = asyncio.ensure_future(run)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        finally:
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is not None:
                log.debug("background job failed while stopping", exc_info=task.exception())
        raise


def cron_every(seconds: float) -> str:
    """The cron expression (six fields, seconds first) that fires every `seconds`, aligned to
    the clock: whole seconds that divide a minute, minutes that divide an hour, hours that
    divide a day. Any other interval raises ValueError (a cron schedule would not repeat it
    evenly)."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        raise ValueError(f"{seconds} s: an interval is a whole number of seconds")
    if whole < 60 and 60 % whole == 0:
        return f"*/{whole} * * * * *"
    minutes, hours = whole // 60, whole // 3600
    if whole % 60 == 0 and whole < 3600 and 60 % minutes == 0:
        return f"0 */{minutes} * * * *"
    if whole % 3600 == 0 and whole <= 86400 and 24 % hours == 0:
        return f"0 0 */{hours} * * *" if hours < 24 else "0 0 0 * * *"
    raise ValueError(f"{seconds} s does not divide a minute, an hour or a day evenly")


class Runs:
    """Runs in flight, by name, across threads and event loops: `admit` lets one run per name
    in at a time and none once stopping; `stop` waits for those in flight."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: set[str] = set()
        self.stopping = False

    @contextlib.contextmanager
    def admit(self, name: str) -> Iterator[str | None]:
        """Yields None when the run may go ahead, else why not ("stopping", "running")."""
        with self._changed:
            refused = "stopping" if self.stopping else "running" if name in self._running else None
            if refused is None:
                self._running.add(name)
        try:
            yield refused
        finally:
            if refused is None:
                with self._changed:
                    self._running.discard(name)
                    self._changed.notify_all()

    def running(self) -> list[str]:
        with self._changed:
            return sorted(self._running)

    def stop(self, timeout: float) -> list[str]:
        """Admit no more runs and wait up to `timeout` s for those in flight (blocking); the
        names still running then."""
        with self._changed:
            self.stopping = True
            self._changed.wait_for(lambda: not self._running, timeout)
            return sorted(self._running)
