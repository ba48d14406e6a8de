"""Budgets, retries and the catalog cache, measured at the sandbox (acceptance of the provider
layer for compute)."""

from __future__ import annotations

import asyncio
import time

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.cache import CatalogCache
from stellwerk.provider.compute.base import Compute
from tests.provider.compute.conftest import Sandbox, make_compute


async def test_429_with_retry_after_is_waited_out(
    compute: Compute, compute_sandbox: Sandbox
) -> None:
    await compute_sandbox.fault(kind="rate_limit", retry_after=2, count=1)
    started = time.monotonic()
    regions = await compute.list_regions()
    assert regions
    # Hetzner sends no Retry-After: one request refills in a second (test_hetzner.py).
    expected = 0.9 if compute_sandbox.case.name == "hetzner" else 2.0
    assert time.monotonic() - started >= expected
    assert len(await compute_sandbox.requests()) == 2


async def test_parallel_callers_never_exceed_the_budget(compute_sandbox: Sandbox) -> None:
    budget = ("4/second",)
    name = compute_sandbox.case.name
    budgets = {name: budget, "linode:list": budget}
    shared = RateLimiter(None)  # what one process (or Redis, for several) holds
    adapters = [make_compute(compute_sandbox, budgets=budgets, limiter=shared) for _ in range(10)]
    try:
        # Ten callers on one token, each asking twice: 20 requests through a 4/s budget.
        async def caller(adapter: Compute) -> None:
            for _ in range(2):
                await adapter.list_regions()

        await asyncio.wait_for(asyncio.gather(*(caller(a) for a in adapters)), timeout=60)
    finally:
        for adapter in adapters:
            await adapter.aclose()
    seen = sorted(r["at"] for r in await compute_sandbox.requests())
    assert len(seen) == 20
    # The budget counts when a request leaves; the sandbox when it arrives. Transit time
    # differs per request, so a window a little shorter than the budget's second is measured.
    for index, at in enumerate(seen):
        in_window = [t for t in seen[index:] if t - at < 0.9]
        assert len(in_window) <= 4, f"{len(in_window)} requests within 0.9 s"
    assert seen[-1] - seen[0] >= 3.5


async def test_second_catalog_listing_within_ttl_asks_nobody(
    compute: Compute, compute_sandbox: Sandbox
) -> None:
    cache = CatalogCache(None)

    async def plans() -> list[str]:
        async def fetch() -> list[str]:
            return [p.id for p in await compute.list_plans()]

        listed: list[str] = await cache.get_or_fetch("p1", "plans", fetch)
        return listed

    first = await plans()
    asked = len(await compute_sandbox.requests())
    assert await plans() == first
    assert len(await compute_sandbox.requests()) == asked
    await cache.invalidate("p1")
    assert await plans() == first
    assert len(await compute_sandbox.requests()) > asked
