"""Opening provider adapters, for the domains, DNS, projects and servers features.

Settings-configured providers (registrar, DNS, PaaS): real credentials win, at the base URL the
settings give (`INWX_API_URL`, `COOLIFY_API_URL`, `HETZNER_DNS_API_URL`, `POWERDNS_API_URL`),
honoured exactly. Without them, in sandbox mode (`Settings.sandbox_enabled`), adapters point at
the sandboxes: the ones running in this process (`stellwerk serve`), those on
`STELLWERK_SANDBOX_PORT` + offset (a CLI next to a running `stellwerk serve` or
`stellwerk sandbox`), or the free ports a `stellwerk serve` on the same data directory
published, with the `sandbox-` credentials every sandbox accepts.

Compute providers are rows (`service_providers`): `open_compute` opens one by type, token and
base URL. Every builder here asks the registry; none knows a provider by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.action import Backoff
from stellwerk.provider.budget import Budget
from stellwerk.provider.compute.base import Compute
from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.error import (
    MISSING_CREDENTIALS,
    PROVIDER_NOT_FOUND,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.paas.base import Paas
from stellwerk.provider.registrar.base import Registrar
from stellwerk.provider.registry import SANDBOX_SECRET, Endpoint
from stellwerk.provider.sandbox import listener

__all__ = ["SANDBOX_SECRET", "Endpoint"]

# Tests (and embedding code) may point a provider at a sandbox somewhere else.
ENDPOINT_OVERRIDES: dict[str, str] = {}

_LIMITERS: dict[tuple[str | None, int], tuple[weakref.ref[Any] | None, RateLimiter]] = {}


def limiter(redis_url: str | None) -> RateLimiter:
    """One budget store per event loop: the storage's locks and Redis connections belong to the
    loop that made them (requests run on the server's loop, workflow steps on DBOS's)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = (redis_url, id(loop))
    cached = _LIMITERS.get(key)
    if cached is not None and (cached[0] is None or cached[0]() is loop):
        return cached[1]
    made = RateLimiter(redis_url)
    _LIMITERS[key] = (None if loop is None else weakref.ref(loop), made)
    return made


def budget(settings: Settings, key: str) -> Budget:
    return Budget(limiter(settings.redis_url), registry.budget_limits(key))


# --- where a provider answers --------------------------------------------------------------


def sandbox_url(settings: Settings, provider: str) -> str | None:
    """Where `provider`'s sandbox answers, when sandbox mode is on."""
    if provider in ENDPOINT_OVERRIDES:
        return ENDPOINT_OVERRIDES[provider]
    if not settings.sandbox_enabled:
        return None
    if provider in listener.RUNNING_URLS:
        return listener.RUNNING_URLS[provider]
    spec = registry.entry(provider).sandbox
    if spec is not None and settings.sandbox_port:
        return f"http://127.0.0.1:{settings.sandbox_port + spec.port_offset}{spec.suffix}"
    return listener.published_urls(settings).get(provider)


def endpoint(settings: Settings, provider: str) -> Endpoint:
    """Where a settings-configured provider answers (`MISSING_CREDENTIALS` when nowhere)."""
    entry = registry.entry(provider)
    if provider in ENDPOINT_OVERRIDES:
        # A sandbox elsewhere; a provider without one (PowerDNS) keeps its credentials.
        sandboxed = entry.sandbox is not None
        return Endpoint(provider, ENDPOINT_OVERRIDES[provider], sandbox=sandboxed)
    if entry.configured is not None and entry.configured(settings):
        url = entry.api_url(settings) if entry.api_url is not None else entry.base_url
        if not url:
            raise ProviderError(
                MISSING_CREDENTIALS, f"Set {entry.settings_hint}", provider=provider
            )
        return Endpoint(provider, url, sandbox=False)
    url = sandbox_url(settings, provider) if entry.sandbox is not None else None
    if url is None:
        raise ProviderError(MISSING_CREDENTIALS, f"Set {entry.settings_hint}", provider=provider)
    return Endpoint(provider, url, sandbox=True)


def uses_sandbox(settings: Settings, provider: str) -> bool:
    """Whether `provider` is answered by its sandbox (no real credentials configured)."""
    try:
        return endpoint(settings, provider).sandbox
    except ProviderError:
        return False


def sandbox_seed(settings: Settings, provider: str, key: str) -> str | None:
    """A value the provider's sandbox comes with (the seeded contact, key or token), when the
    sandbox answers for `provider`; None in real mode."""
    spec = registry.entry(provider).sandbox
    if spec is None or not uses_sandbox(settings, provider):
        return None
    return spec.seeds.get(key)


def sandbox_health_url(settings: Settings, provider: str) -> str | None:
    """The health URL template (`{domain}`) the PaaS sandbox answers for its applications."""
    spec = registry.entry(provider).sandbox
    if spec is None or spec.health_url is None or not uses_sandbox(settings, provider):
        return None
    url = endpoint(settings, provider).url
    root = url.removesuffix(spec.suffix) if spec.suffix else url
    return spec.health_url.replace("{root}", root)


def dns_providers() -> tuple[str, ...]:
    return tuple(sorted(registry.names("dns")))


# --- adapters ----------------------------------------------------------------------------


def _open(settings: Settings, provider: str, kind: str) -> Any:
    entry = registry.find(provider)
    if entry is None or kind not in entry.adapters:
        raise ProviderError(
            PROVIDER_NOT_FOUND,
            f"No {kind} provider {provider!r} (known: {', '.join(sorted(registry.names(kind)))})",
            provider=provider,
        )
    return entry.opener(kind)(settings, endpoint(settings, provider), limiter(settings.redis_url))


@contextlib.asynccontextmanager
async def registrar(settings: Settings, provider: str = "inwx") -> AsyncIterator[Registrar]:
    adapter: Registrar = _open(settings, provider, "registrar")
    try:
        yield adapter
    finally:
        await adapter.aclose()


@contextlib.asynccontextmanager
async def dns(settings: Settings, provider: str) -> AsyncIterator[DnsProvider]:
    adapter: DnsProvider = _open(settings, provider, "dns")
    try:
        yield adapter
    finally:
        await adapter.aclose()


@contextlib.asynccontextmanager
async def paas(settings: Settings, provider: str = "coolify") -> AsyncIterator[Paas]:
    adapter: Paas = _open(settings, provider, "paas")
    try:
        yield adapter
    finally:
        await adapter.aclose()


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
    """A compute adapter for a provider row's type, token and (optional) base URL."""
    if not token:
        raise ProviderError(
            MISSING_CREDENTIALS,
            "API credentials not configured",
            provider=provider_type,
            field="api_key",
        )
    entry = registry.find(provider_type)
    if entry is None or "compute" not in entry.adapters:
        raise ProviderError(
            VALIDATION_ERROR,
            f"Unsupported provider type {provider_type}; use one of "
            f"{', '.join(registry.compute_types())}",
            provider=provider_type,
            field="type",
        )
    adapter: Compute = entry.opener("compute")(
        token=token,
        limiter=limiter,
        base_url=base_url,
        budgets=budgets,
        max_attempts=max_attempts,
        backoff=backoff,
        poll_interval=poll_interval,
    )
    return adapter


class Providers:
    """The adapters above, bound to one `Settings`: what a workflow step's context hands it
    (`ctx.providers.paas()`), and what code holding settings may use alike."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def registrar(
        self, provider: str = "inwx"
    ) -> contextlib.AbstractAsyncContextManager[Registrar]:
        return registrar(self.settings, provider)

    def dns(self, provider: str) -> contextlib.AbstractAsyncContextManager[DnsProvider]:
        return dns(self.settings, provider)

    def paas(self, provider: str = "coolify") -> contextlib.AbstractAsyncContextManager[Paas]:
        return paas(self.settings, provider)

    def limiter(self) -> RateLimiter:
        return limiter(self.settings.redis_url)

    def endpoint(self, provider: str) -> Endpoint:
        return endpoint(self.settings, provider)

    def sandbox_url(self, provider: str) -> str | None:
        return sandbox_url(self.settings, provider)

    def sandbox_seed(self, provider: str, key: str) -> str | None:
        return sandbox_seed(self.settings, provider, key)

    def sandbox_health_url(self, provider: str) -> str | None:
        return sandbox_health_url(self.settings, provider)
