"""State shared through Redis that degrades to this process's own while Redis is away.

A failed call marks Redis as away for `RETRY_SECONDS` and logs one warning; callers use their
per-process state meanwhile. The first call after that tries Redis again, and the first success
logs that shared state is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits.errors import StorageError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_SECONDS = 5.0
# Connecting to or asking Redis: give up after this long (then the process's own state answers).
TIMEOUT_SECONDS = 1.0
# What Redis being away looks like, whichever client asked.
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    StorageError,
    OSError,
    asyncio.TimeoutError,
)

# What is degraded in this process right now (for /status): by what, why.
DEGRADED: dict[str, str] = {}


class Fallback:
    def __init__(self, what: str) -> None:
        self.what = what
        self._away_until = 0.0

    @property
    def away(self) -> bool:
        """Skip Redis for now: it failed less than `RETRY_SECONDS` ago."""
        return self._away_until > time.monotonic()

    def failed(self, error: BaseException) -> None:
        self._away_until = time.monotonic() + RETRY_SECONDS
        if self.what not in DEGRADED:
            DEGRADED[self.what] = f"Redis unreachable ({type(error).__name__}: {error})"[:300]
            log.warning(
                "Redis is unreachable: %s use this process's own state until it is back",
                self.what,
                extra={"error": str(error)},
            )

    def succeeded(self) -> None:
        if DEGRADED.pop(self.what, None) is not None:
            log.warning("Redis is back: %s are shared again", self.what)


async def twice(call: Callable[[], Awaitable[T]]) -> T:
    """`call`, and once more if it fails: a connection from before a Redis restart fails once,
    and the client replaces it."""
    try:
        return await call()
    except REDIS_ERRORS:
        return await call()
