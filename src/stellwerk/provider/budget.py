"""Request budgets per provider token: callers wait for a free slot instead of being refused.

Budgets use the `limits` library, so with Redis configured all processes share one budget
(while Redis is away, each process keeps its own: see `kit.shared`).
Each provider's windows are in its registry entry (`registry.budget_limits`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from limits import RateLimitItem, parse

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.error import RATE_LIMIT_EXCEEDED, ProviderError


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible id for a credential, to key budgets by."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Budget:
    def __init__(self, limiter: RateLimiter, limits: tuple[str, ...]) -> None:
        self._limiter = limiter
        self._items: tuple[RateLimitItem, ...] = tuple(parse(limit) for limit in limits)

    async def acquire(self, *identifiers: str, max_wait: float = 120.0) -> None:
        """Take one request from every window; wait (up to `max_wait`) while any is spent."""
        deadline = time.monotonic() + max_wait
        while True:
            spent = [
                item
                for item in self._items
                if not await self._limiter.test(item, "budget", *identifiers)
            ]
            if not spent:
                taken: list[RateLimitItem] = []
                for item in self._items:
                    if not await self._limiter.take(item, "budget", *identifiers):
                        break  # another caller got there first; try again below
                    taken.append(item)
                else:
                    return
                spent = [i for i in self._items if i not in taken]
            wait = 0.05
            for item in spent:
                reset_at = await self._limiter.reset_time(item, "budget", *identifiers)
                wait = max(wait, reset_at - time.time())
            if time.monotonic() + wait > deadline:
                raise ProviderError(
                    RATE_LIMIT_EXCEEDED,
                    "The provider's request budget is spent; try again later",
                    provider=identifiers[0] if identifiers else "stellwerk",
                    retry_after=wait,
                )
            await asyncio.sleep(min(wait, 1.0))
