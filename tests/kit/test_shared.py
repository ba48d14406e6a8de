"""Limits, budgets and the catalog cache go on per process while Redis is away, and are shared
again once it is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from limits import parse

from stellwerk.exceptions import RateLimited
from stellwerk.kit import shared
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.budget import Budget
from stellwerk.provider.cache import CatalogCache
from tests.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")


@pytest.fixture
def redis_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    monkeypatch.setattr(shared, "RETRY_SECONDS", 0.0)  # ask Redis again at once
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shared.DEGRADED.clear()


async def test_limits_fall_back_to_the_process_and_return_to_redis(
    redis_server: RedisServer,
) -> None:
    limiter = RateLimiter(redis_server.url)
    other = RateLimiter(redis_server.url)  # another process
    await limiter.hit("2/minute", "login", "a")
    await other.hit("2/minute", "login", "a")
    with pytest.raises(RateLimited):  # shared: the two processes count together
        await limiter.hit("2/minute", "login", "a")
    assert limiter.shared

    redis_server.stop()
    await limiter.hit("2/minute", "login", "b")  # no error: counted in this process
    await limiter.hit("2/minute", "login", "b")
    with pytest.raises(RateLimited):  # and still limited
        await limiter.hit("2/minute", "login", "b")
    assert "rate limits and provider budgets" in shared.DEGRADED

    redis_server.start()  # empty again
    await limiter.hit("2/minute", "login", "c")
    await other.hit("2/minute", "login", "c")
    assert limiter.shared
    assert not shared.DEGRADED
    with pytest.raises(RateLimited):
        await other.hit("2/minute", "login", "c")


async def test_budgets_and_the_catalog_cache_do_not_fail_while_redis_is_away(
    redis_server: RedisServer,
) -> None:
    limiter = RateLimiter(redis_server.url)
    budget = Budget(limiter, ("2/second",))
    cache = CatalogCache(redis_server.url)
    fetched: list[int] = []

    async def fetch() -> list[str]:
        fetched.append(1)
        return ["cx22"]

    assert await cache.get_or_fetch(1, "plans", fetch) == ["cx22"]
    redis_server.stop()
    await budget.acquire("hetzner", "t")
    assert await limiter.test(parse("2/second"), "budget", "hetzner", "t")
    assert await cache.get_or_fetch(1, "plans", fetch) == ["cx22"]  # fetched, kept here
    assert await cache.get_or_fetch(1, "plans", fetch) == ["cx22"]
    assert len(fetched) == 2
    await cache.invalidate(1)
    redis_server.start()
    assert await cache.get_or_fetch(1, "plans", fetch) == ["cx22"]
    assert await cache.get_or_fetch(1, "plans", fetch) == ["cx22"]  # from Redis again
    assert len(fetched) == 3
    await cache.aclose()
