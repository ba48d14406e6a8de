"""Background jobs that repeat at a fixed interval, and survive their own failures.

With `claim`, intervals are aligned to the clock (interval n covers `n * seconds` to
`(n + 1) * seconds` since the epoch) and a run happens only when `claim(n)` says this process
won interval n: several processes with the same job run it once per interval between them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Claim = Callable[[int], Awaitable[bool]]


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
            if claim is None or await claim(slot):
                await job()
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
