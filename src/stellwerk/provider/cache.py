"""The catalog cache: plans, images, regions (1 h) and marketplace apps (6 h) per provider.

Keys are `provider:{id}:plans|images|regions|marketplace`; the cache is shared through Redis when
`STELLWERK_REDIS_URL` is set, otherwise it lives in this process. While Redis is away, this
process's own cache answers (`kit.shared`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

from stellwerk.kit.shared import REDIS_ERRORS, TIMEOUT_SECONDS, Fallback, twice

CATALOG_KINDS = ("plans", "images", "regions", "marketplace")
DEFAULT_TTLS = {"plans": 3600, "images": 3600, "regions": 3600, "marketplace": 6 * 3600}


def cache_key(provider_id: object, kind: str) -> str:
    return f"provider:{provider_id}:{kind}"


class CatalogCache:
    def __init__(self, redis_url: str | None = None, ttls: dict[str, int] | None = None) -> None:
        self.ttls = {**DEFAULT_TTLS, **(ttls or {})}
        self._redis: Redis | None = None
        if redis_url:
            self._redis = Redis.from_url(
                redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
        self._memory: dict[str, tuple[float, bytes]] = {}
        self.fallback = Fallback("provider catalog caches")

    def _shared(self) -> Redis | None:
        return None if self._redis is None or self.fallback.away else self._redis

    async def get_or_fetch(
        self, provider_id: object, kind: str, fetch: Callable[[], Awaitable[Any]]
    ) -> Any:
        key = cache_key(provider_id, kind)
        cached = await self._get(key)
        if cached is not None:
            return orjson.loads(cached)
        value = await fetch()
        await self._set(key, orjson.dumps(value), self.ttls.get(kind, 3600))
        return value

    async def invalidate(self, provider_id: object) -> None:
        keys = [cache_key(provider_id, kind) for kind in CATALOG_KINDS]
        for key in keys:
            self._memory.pop(key, None)
        redis = self._redis
        if redis is not None:  # even while it seemed away: a stale catalog is worse
            try:
                await twice(lambda: redis.delete(*keys))
            except REDIS_ERRORS as error:
                self.fallback.failed(error)

    async def clear(self) -> None:
        self._memory.clear()
        if self._redis is not None:
            try:
                async for key in self._redis.scan_iter(match="provider:*"):
                    await self._redis.delete(key)
            except REDIS_ERRORS as error:
                self.fallback.failed(error)

    async def _get(self, key: str) -> bytes | None:
        redis = self._shared()
        if redis is not None:
            try:
                value = await twice(lambda: redis.get(key))
            except REDIS_ERRORS as error:
                self.fallback.failed(error)
            else:
                self.fallback.succeeded()
                return value if isinstance(value, bytes | None) else value.encode()
        entry = self._memory.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    async def _set(self, key: str, value: bytes, ttl: int) -> None:
        redis = self._shared()
        if redis is not None:
            try:
                await twice(lambda: redis.set(key, value, ex=ttl))
            except REDIS_ERRORS as error:
                self.fallback.failed(error)
            else:
                return
        self._memory[key] = (time.monotonic() + ttl, value)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
