"""Building provider adapters from the settings, for the domains, DNS and projects features.

Real credentials win. Without them, in sandbox mode (`Settings.sandbox_enabled`), adapters point
at the sandboxes: the ones running in this process (`stellwerk serve`), or those on
`STELLWERK_SANDBOX_PORT` + offset (a CLI next to a running `stellwerk serve` or
`stellwerk sandbox`). Sandbox credentials are fixed strings beginning with `sandbox-`.

Every builder is an async context manager that closes the adapter's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.budget import DEFAULT_BUDGETS, Budget
from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.error import MISSING_CREDENTIALS, PROVIDER_NOT_FOUND, ProviderError
from stellwerk.provider.paas.base import Paas
from stellwerk.provider.registrar.base import Registrar
from stellwerk.provider.sandbox import listener

SANDBOX_SECRET = "sandbox-stellwerk"
SANDBOX_OFFSETS = {"inwx": (1, ""), "coolify": (2, "/api/v1"), "hetzner": (3, "/v1")}
# Tests (and embedding code) may point a provider somewhere else.
ENDPOINT_OVERRIDES: dict[str, str] = {}

DnsFactory = Callable[[Settings], DnsProvider]
DNS_FACTORIES: dict[str, DnsFactory] = {}


def register_dns(name: str, factory: DnsFactory) -> None:
    """Make a DNS provider choosable per zone (Hetzner DNS registers itself here)."""
    DNS_FACTORIES[name] = factory


_LIMITERS: dict[tuple[str | None, int], tuple[weakref.ref[Any] | None, RateLimiter]] = {}


def _limiter(redis_url: str | None) -> RateLimiter:
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
    limiter = RateLimiter(redis_url)
    _LIMITERS[key] = (None if loop is None else weakref.ref(loop), limiter)
    return limiter


def budget(settings: Settings, provider: str) -> Budget:
    return Budget(_limiter(settings.redis_url), DEFAULT_BUDGETS[provider])


def sandbox_url(settings: Settings, provider: str) -> str | None:
    """Where `provider`'s sandbox answers, when sandbox mode is on."""
    if provider in ENDPOINT_OVERRIDES:
        return ENDPOINT_OVERRIDES[provider]
    if not settings.sandbox_enabled:
        return None
    if provider in listener.RUNNING_URLS:
        return listener.RUNNING_URLS[provider]
    if provider in SANDBOX_OFFSETS and settings.sandbox_port:
        offset, suffix = SANDBOX_OFFSETS[provider]
        return f"http://127.0.0.1:{settings.sandbox_port + offset}{suffix}"
    return None


def uses_sandbox(settings: Settings, provider: str) -> bool:
    """Whether `provider` is answered by its sandbox (no real credentials configured)."""
    configured = {
        "inwx": settings.inwx_username,
        "coolify": settings.coolify_api_token,
        "hetzner": settings.hetzner_api_token,
    }.get(provider)
    return (not configured or provider in ENDPOINT_OVERRIDES) and sandbox_url(
        settings, provider
    ) is not None


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def build_inwx_client(settings: Settings) -> Any:
    from stellwerk.provider.registrar.inwx import LIVE_URL, OTE_URL, InwxClient

    if settings.inwx_username and "inwx" not in ENDPOINT_OVERRIDES:
        return InwxClient(
            username=settings.inwx_username,
            password=_secret(settings.inwx_password),
            otp_secret=_secret(settings.inwx_2fa_secret),
            api_url=OTE_URL if settings.inwx_use_test else LIVE_URL,
            budget=budget(settings, "inwx"),
        )
    url = sandbox_url(settings, "inwx")
    if url is None:
        raise ProviderError(
            MISSING_CREDENTIALS, "Set INWX_USERNAME and INWX_PASSWORD", provider="inwx"
        )
    return InwxClient(
        username=SANDBOX_SECRET,
        password=SANDBOX_SECRET,
        api_url=url,
        budget=budget(settings, "inwx"),
    )


@contextlib.asynccontextmanager
async def registrar(settings: Settings) -> AsyncIterator[Registrar]:
    from stellwerk.provider.registrar.inwx import InwxRegistrar

    adapter = InwxRegistrar(build_inwx_client(settings))
    try:
        yield adapter
    finally:
        await adapter.aclose()


def _inwx_dns(settings: Settings) -> DnsProvider:
    from stellwerk.provider.dns.inwx import InwxDns

    return InwxDns(build_inwx_client(settings))


def _powerdns(settings: Settings) -> DnsProvider:
    from stellwerk.provider.dns.powerdns import PowerDnsProvider

    url = ENDPOINT_OVERRIDES.get("powerdns") or settings.powerdns_api_url
    return PowerDnsProvider(
        api_url=url,
        api_key=_secret(settings.powerdns_api_key),
        server_id=settings.powerdns_server_id,
        default_nameservers=[
            n.strip() for n in settings.powerdns_nameservers.split(",") if n.strip()
        ],
        budget=budget(settings, "powerdns"),
    )


def _hetzner_dns(settings: Settings) -> DnsProvider:
    """Hetzner DNS on the Cloud API (zones and rrsets), with `HETZNER_API_TOKEN`."""
    from stellwerk.provider.dns.hetzner import HetznerDns

    token = _secret(settings.hetzner_api_token)
    if token and "hetzner" not in ENDPOINT_OVERRIDES:
        return HetznerDns(token=token, limiter=_limiter(settings.redis_url))
    url = sandbox_url(settings, "hetzner")
    if url is None:
        raise ProviderError(MISSING_CREDENTIALS, "Set HETZNER_API_TOKEN", provider="hetzner")
    return HetznerDns(token=SANDBOX_SECRET, limiter=_limiter(settings.redis_url), base_url=url)


register_dns("inwx", _inwx_dns)
register_dns("powerdns", _powerdns)
register_dns("hetzner", _hetzner_dns)


@contextlib.asynccontextmanager
async def dns(settings: Settings, provider: str) -> AsyncIterator[DnsProvider]:
    factory = DNS_FACTORIES.get(provider)
    if factory is None:
        raise ProviderError(
            PROVIDER_NOT_FOUND,
            f"No DNS provider {provider!r} (known: {', '.join(sorted(DNS_FACTORIES))})",
            provider=provider,
        )
    adapter = factory(settings)
    try:
        yield adapter
    finally:
        await adapter.aclose()


@contextlib.asynccontextmanager
async def paas(settings: Settings) -> AsyncIterator[Paas]:
    from stellwerk.provider.paas.coolify import CoolifyPaas

    if settings.coolify_api_token and "coolify" not in ENDPOINT_OVERRIDES:
        adapter = CoolifyPaas(
            api_url=settings.coolify_api_url,
            token=_secret(settings.coolify_api_token),
            budget=budget(settings, "coolify"),
        )
    else:
        url = sandbox_url(settings, "coolify")
        if url is None:
            raise ProviderError(
                MISSING_CREDENTIALS, "Set COOLIFY_API_URL and COOLIFY_API_TOKEN", provider="coolify"
            )
        adapter = CoolifyPaas(api_url=url, token=SANDBOX_SECRET, budget=budget(settings, "coolify"))
    try:
        yield adapter
    finally:
        await adapter.aclose()
