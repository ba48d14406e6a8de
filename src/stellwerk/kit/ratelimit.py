"""Rate limits on the `limits` library: in memory, or in Redis so several processes share them.

With Redis, a limit that cannot reach it is counted in this process meanwhile (`kit.shared`):
requests go on being limited, per process, instead of failing.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from stellwerk.exceptions import RateLimited
from stellwerk.kit.shared import REDIS_ERRORS, TIMEOUT_SECONDS, Fallback, twice

T = TypeVar("T")


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: RedisStorage | None = None
        self._shared: MovingWindowRateLimiter | None = None
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            self.storage = RedisStorage(
                uri,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
            )
            self._shared = MovingWindowRateLimiter(self.storage)
        # This process's own windows: all of them without Redis, the fallback while it is away.
        # For `hit`, a deque per key: O(1) per hit, where the library's memory storage copies
        # its whole list per hit and per expiry round (costly at thousands per second).
        self._local = _MovingWindows()
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self.fallback = Fallback("rate limits and provider budgets")

    @property
    def shared(self) -> bool:
        """Whether limits are shared (through Redis) right now."""
        return self._shared is not None and not self.fallback.away

    async def _call(self, call: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """`call` on Redis's windows, or on this process's while Redis is away."""
        shared = self._shared
        if shared is not None and not self.fallback.away:
            try:
                result = await twice(lambda: call(shared))
            except REDIS_ERRORS as error:
                self.fallback.failed(error)
            else:
                self.fallback.succeeded()
                return result
        return await call(self._memory)

    async def hit(self, limit: str | RateLimitItem, *identifiers: str) -> None:
        """Count one request against `limit` for `identifiers`; raise `RateLimited` past it."""
        item = parse(limit) if isinstance(limit, str) else limit
        shared = self._shared
        if shared is not None and not self.fallback.away:
            try:
                allowed = await twice(lambda: shared.hit(item, *identifiers))
                if not allowed:
                    stats = await shared.get_window_stats(item, *identifiers)
            except REDIS_ERRORS as error:
                self.fallback.failed(error)
            else:
                self.fallback.succeeded()
                if allowed:
                    return
                raise RateLimited(retry_after=math.ceil(stats.reset_time - time.time()))
        retry_after = self._local.hit(item, identifiers)
        if retry_after is None:
            return
        raise RateLimited(retry_after=math.ceil(retry_after))

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more request fits (nothing is counted)."""
        return await self._call(lambda strategy: strategy.test(item, *identifiers))

    async def take(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one request if it fits; whether it did."""
        return await self._call(lambda strategy: strategy.hit(item, *identifiers))

    async def reset_time(self, item: RateLimitItem, *identifiers: str) -> float:
        """When (epoch seconds) the window frees its next request."""
        stats = await self._call(lambda strategy: strategy.get_window_stats(item, *identifiers))
        return float(stats.reset_time)

    async def clear(self, limit: str | RateLimitItem, *identifiers: str) -> None:
        item = parse(limit) if isinstance(limit, str) else limit
        self._local.windows.pop(item.key_for(*identifiers), None)
        await self._memory.clear(item, *identifiers)
        if self._shared is not None:
            try:
                await self._shared.clear(item, *identifiers)
            except REDIS_ERRORS as error:
                self.fallback.failed(error)

    async def reset(self) -> None:
        self._local.windows.clear()
        await self._memory.storage.reset()
        if self.storage is not None:
            try:
                await self.storage.reset()
            except REDIS_ERRORS as error:
                self.fallback.failed(error)


class _MovingWindows:
    """The moving window of `limits` (at most N hits in any window of the limit's length)."""

    def __init__(self) -> None:
        self.windows: dict[str, deque[float]] = {}
        self._expiries: dict[str, float] = {}  # each key's window length, for forgetting it
        self._hits = 0
        self._keys: dict[tuple[RateLimitItem, tuple[str, ...]], str] = {}  # key_for, cached

    def hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        """None if allowed (and counted); otherwise the seconds until a hit is allowed again."""
        now = time.time()
        expiry = item.get_expiry()
        key = self._keys.get((item, identifiers))
        if key is None:
            if len(self._keys) > 10_000:
                self._keys.clear()
            key = self._keys[(item, identifiers)] = item.key_for(*identifiers)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = deque()
            self._expiries[key] = expiry
        while window and window[0] < now - expiry:
            window.popleft()
        if len(window) >= item.amount:
            return window[0] + expiry - now
        window.append(now)
        self._hits += 1
        if self._hits % 10_000 == 0:  # forget idle clients now and then
            for idle in [
                k for k, w in self.windows.items() if not w or w[-1] < now - self._expiries[k]
            ]:
                del self.windows[idle]
                self._expiries.pop(idle, None)
        return None
