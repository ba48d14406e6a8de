"""From a provider row to a working `Compute` adapter, and the catalog cache servers use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlparse

from stellwerk.config import Settings
from stellwerk.keyfile import load_or_create_master_key
from stellwerk.models import ServiceProvider
from stellwerk.provider import connect, registry
from stellwerk.provider.cache import CatalogCache
from stellwerk.provider.compute.base import Compute
from stellwerk.provider.error import PROVIDER_INACTIVE, VALIDATION_ERROR, ProviderError
from stellwerk.server.secrets import SecretBox

_caches: dict[tuple[int, str | None], CatalogCache] = {}


def master_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return load_or_create_master_key(settings.data_dir, configured)


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(master_key(settings))


def catalog_cache(settings: Settings) -> CatalogCache:
    """The catalog cache for the running loop: in memory, or Redis when configured."""
    key = (id(asyncio.get_running_loop()) if settings.redis_url else 0, settings.redis_url)
    cache = _caches.get(key)
    if cache is None:
        cache = CatalogCache(
            settings.redis_url,
            ttls={
                "plans": settings.catalog_cache_seconds,
                "images": settings.catalog_cache_seconds,
                "regions": settings.catalog_cache_seconds,
                "marketplace": settings.marketplace_cache_seconds,
            },
        )
        _caches[key] = cache
    return cache


def check_api_url(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ProviderError(
            VALIDATION_ERROR,
            "configuration.api_url is an http(s) URL",
            provider="stellwerk",
            field="configuration.api_url",
        )
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ProviderError(
            VALIDATION_ERROR,
            "configuration.api_url is an http(s) URL",
            provider="stellwerk",
            field="configuration.api_url",
        )
    return value.rstrip("/")


def endpoint_for(
    provider_type: str,
    configuration: dict[str, object],
    settings: Settings,
    sandboxes: dict[str, str],
) -> str | None:
    """`configuration.api_url` always; else the sandbox in sandbox mode; else the real API."""
    if configuration.get("api_url"):
        return check_api_url(configuration["api_url"])
    if settings.sandbox_enabled and provider_type in sandboxes:
        return sandboxes[provider_type]
    return None


def current_endpoint(provider: ServiceProvider, settings: Settings) -> str | None:
    """Where `provider` answers now: its stored endpoint, but a sandbox's looked up again (the
    sandboxes take free ports, new ones on each start, unless `STELLWERK_SANDBOX_PORT` is set)."""
    if provider.endpoint and not provider.configuration.get("api_url") and settings.sandbox_enabled:
        return connect.sandbox_url(settings, provider.type) or provider.endpoint
    return provider.endpoint


def open_for(
    provider: ServiceProvider, settings: Settings, *, api_key: str | None = None
) -> Compute:
    if provider.type not in registry.compute_types():
        raise ProviderError(
            VALIDATION_ERROR,
            f"Provider type {provider.type} is not supported yet",
            provider=provider.type,
            field="type",
        )
    token = (
        api_key if api_key is not None else secret_box(settings).decrypt(provider.api_key_encrypted)
    )
    return connect.open_compute(
        provider.type,
        token=token,
        limiter=connect.limiter(settings.redis_url),
        base_url=current_endpoint(provider, settings),
    )


@contextlib.asynccontextmanager
async def connected(
    provider: ServiceProvider, settings: Settings, *, require_active: bool = True
) -> AsyncIterator[Compute]:
    if require_active and not provider.active:
        raise ProviderError(
            PROVIDER_INACTIVE,
            f"Provider {provider.name} is disabled",
            provider=provider.type,
            field="provider_id",
        )
    compute = open_for(provider, settings)
    try:
        yield compute
    finally:
        await compute.aclose()
