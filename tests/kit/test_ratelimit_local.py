"""The in-process moving window behind `RateLimiter` without Redis."""

from __future__ import annotations

import pytest

from stellwerk.exceptions import RateLimited
from stellwerk.kit.ratelimit import RateLimiter


async def test_moving_window_counts_refuses_and_clears() -> None:
    limiter = RateLimiter(None)
    for _ in range(3):
        await limiter.hit("3/minute", "api", "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("3/minute", "api", "10.0.0.1")
    assert 1 <= refused.value.retry_after <= 60
    await limiter.hit("3/minute", "api", "10.0.0.2")  # another client has its own window
    await limiter.clear("3/minute", "api", "10.0.0.1")
    await limiter.hit("3/minute", "api", "10.0.0.1")
    await limiter.reset()
    for _ in range(3):
        await limiter.hit("3/minute", "api", "10.0.0.1")


async def test_busy_short_limits_do_not_forget_long_windows() -> None:
    limiter = RateLimiter(None)
    for _ in range(2):
        await limiter.hit("2/hour", "login", "someone")
    for _ in range(20_000):  # enough hits for the idle-window sweeps to run
        await limiter.hit("1000000/second", "busy", "client")
    with pytest.raises(RateLimited):
        await limiter.hit("2/hour", "login", "someone")
