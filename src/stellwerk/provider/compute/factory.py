"""Opening a `Compute` adapter for a provider type, token and (optional) base URL."""

from __future__ import annotations

import asyncio

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import Backoff
from stellwerk.provider.compute.base import Compute
from stellwerk.provider.compute.digitalocean import DigitalOceanCompute
from stellwerk.provider.compute.hetzner import HetznerCompute
from stellwerk.provider.compute.linode import LinodeCompute
from stellwerk.provider.error import MISSING_CREDENTIALS, VALIDATION_ERROR, ProviderError

COMPUTE_TYPES: tuple[str, ...] = ("linode", "digitalocean", "hetzner")
# The URL each provider's official client takes (see the sandbox listing in `GET /status`).
DEFAULT_BASE_URLS = {
    "hetzner": "https://api.hetzner.cloud/v1",
    "linode": "https://api.linode.com/v4",
    "digitalocean": "https://api.digitalocean.com",
}

_limiters: dict[int, RateLimiter] = {}


def limiter_for_loop(redis_url: str | None) -> RateLimiter:
    """A budget store usable on the running event loop (Redis: shared by every process)."""
    key = id(asyncio.get_running_loop())
    limiter = _limiters.get(key)
    if limiter is None:
        limiter = RateLimiter(redis_url)
        _limiters[key] = limiter
    return limiter


def open_compute(
    provider_type: str,
    *,
    token: str,
    limiter: RateLimiter,
    base_url: str | None = None,
    budgets: dict[str, tuple[str, ...]] | None = None,
    max_attempts: int = 4,
    backoff: Backoff | None = None,
    poll_interval: float = 1.0,
) -> Compute:
    if not token:
        raise ProviderError(
            MISSING_CREDENTIALS,
            "API credentials not configured",
            provider=provider_type,
            field="api_key",
        )
    if provider_type == "hetzner":
        return HetznerCompute(
            token=token,
            limiter=limiter,
            base_url=base_url,
            budgets=budgets,
            max_attempts=max_attempts,
            backoff=backoff,
            poll_interval=poll_interval,
        )
    if provider_type == "linode":
        return LinodeCompute(
            token=token,
            limiter=limiter,
            base_url=base_url,
            budgets=budgets,
            max_attempts=max_attempts,
            backoff=backoff,
            poll_interval=poll_interval,
        )
    if provider_type == "digitalocean":
        return DigitalOceanCompute(
            token=token,
            limiter=limiter,
            base_url=base_url,
            budgets=budgets,
            max_attempts=max_attempts,
            backoff=backoff,
        )
    raise ProviderError(
        VALIDATION_ERROR,
        f"Unsupported provider type {provider_type}; use one of {', '.join(COMPUTE_TYPES)}",
        provider=provider_type,
        field="type",
    )
