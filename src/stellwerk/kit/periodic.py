"""Background jobs that repeat at a fixed interval, and survive their own failures.

With `claim`, intervals are aligned to the clock (interval n covers `n * seconds` to
`(n + 1) * seconds` since the epoch) and a run happens only when `claim(n)` says this process
won interval n: several processes with the same job run it once per interval between them.

Stopping (cancelling the loop) lets a run in flight finish first, for up to `STOP_GRACE_SECONDS`:
a database call cancelled halfway can leave its connection in a transaction (SQLite then keeps
its write lock until the abandoned statement is garbage-collected, and every other writer of
the process waits).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Claim = Callable[[int], Awaitable[bool]]

STOP_GRACE_SECONDS = 10.0


async def run_every(
    name: str,
    seconds: float,
    job: Callable[[], Awaitable[object]],
    *,
    claim: Claim | None = None,
) -> None:
    while True:
        slot = int(time.time() // seconds)
        try:
            await _finish_when_stopped(_run_once(job, claim, slot))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed", extra={"job": name})
        if claim is None:
            await asyncio.sleep(seconds)
            continue
        # Until the next interval starts, plus a little so that processes do not all ask at
        # the same instant.
        jitter = random.uniform(0, min(0.5, seconds / 20))
        await asyncio.sleep(max(0.0, (slot + 1) * seconds - time.time()) + jitter)


async def _run_once(job: Callable[[], Awaitable[object]], claim: Claim | None, slot: int) -> None:
    if claim is None or await claim(slot):
        await job()


async def _finish_when_stopped(run: Awaitable[None]) -> None:
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
