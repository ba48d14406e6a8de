"""A new redirect is served as soon as the call that made it has answered.

`stellwerk serve` forks the data plane's workers and the API from one supervisor, which shares a
few integers between them before forking: the routing version the API wants served, and the one
each worker serves. A change that moves the routing version (`RoutingStateRepository.bump`)
makes the API, once the transaction has committed and before it answers, ask for that version
and wait until every worker has loaded it (they look every `POLL_SECONDS`, without touching the
database until asked). Processes that share no memory with a data plane (the CLI, and the data
plane alone with `stellwerk redirect serve`) wait for nothing: their workers see a change within
`STELLWERK_REDIRECT_REFRESH_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from multiprocessing.sharedctypes import RawArray
from typing import Any

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02


class RoutingBarrier:
    """Slot 0: the version the API wants served; slot 1 + i: the version worker i serves."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._values: Any = RawArray("q", workers + 1)  # shared memory, inherited on fork

    @property
    def wanted(self) -> int:
        return int(self._values[0])

    def serving(self, worker: int, version: int) -> None:
        self._values[worker + 1] = version

    async def wait_for(self, version: int, timeout: float) -> bool:
        """Ask for `version` and wait until every worker serves it (or a newer one)."""
        if version > self._values[0]:
            self._values[0] = version
        deadline = time.monotonic() + timeout
        while min(self._values[1:]) < version:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS / 2)
        return True


# The barrier of this process's data plane (set in the API process of `stellwerk serve`).
ACTIVE: RoutingBarrier | None = None
WAIT_SECONDS = 2.0  # a worker being replaced must not hold a request longer


async def routing_changed(version: int) -> None:
    """After a commit that moved the routing version: return once the data plane serves it."""
    if ACTIVE is None:
        return
    if not await ACTIVE.wait_for(version, WAIT_SECONDS):
        log.warning("the redirect workers did not load routing version %s in time", version)
