"""Rate limits on the `limits` library: in memory, or in Redis so several processes share them."""

from __future__ import annotations

import math
import time
from collections import deque

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from stellwerk.exceptions import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        storage: Storage
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            storage = RedisStorage(uri, implementation="redispy")
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        # In one process, a deque per key: O(1) per hit, where the library's memory storage
        # copies its whole list per hit and per expiry round (costly at thousands per second).
        self._local = None if redis_url else _MovingWindows()

    async def hit(self, limit: str | RateLimitItem, *identifiers: str) -> None:
        """Count one request against `limit` for `identifiers`; raise `RateLimited` past it."""
        item = parse(limit) if isinstance(limit, str) else limit
        if self._local is not None:
            retry_after = self._local.hit(item, identifiers)
            if retry_after is None:
                return
            raise RateLimited(retry_after=math.ceil(retry_after))
        if await self._limiter.hit(item, *identifiers):
            return
        stats = await self._limiter.get_window_stats(item, *identifiers)
        raise RateLimited(retry_after=math.ceil(stats.reset_time - time.time()))

    async def clear(self, limit: str | RateLimitItem, *identifiers: str) -> None:
        item = parse(limit) if isinstance(limit, str) else limit
        if self._local is not None:
            self._local.windows.pop(item.key_for(*identifiers), None)
        await self._limiter.clear(item, *identifiers)

    async def reset(self) -> None:
        if self._local is not None:
            self._local.windows.clear()
        await self.storage.reset()


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
