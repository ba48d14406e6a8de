"""DNS provider fixtures: the INWX sandbox and a real PowerDNS, behind one `dns_provider`.

`DNS_PROVIDERS` maps a provider name to a factory that yields a ready `DnsProvider` and a fresh
zone on it; the contract suite runs once per entry. A new provider adds one entry.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.dns.inwx.adapter import InwxDns
from stellwerk.provider.dns.powerdns.adapter import PowerDnsProvider
from stellwerk.provider.registrar.inwx.adapter import InwxClient
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import start_server
from tests.provider.dns import pdns_server

_zones = itertools.count(1)
ProviderFactory = Callable[[pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[Any]]


@pytest.fixture(scope="session")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns_server.PowerDns]:
    if not pdns_server.available():
        pytest.skip("pdns_server is not installed (scripts/install-system-deps)")
    with pdns_server.running_powerdns(Path(tmp_path_factory.mktemp("pdns"))) as server:
        yield server


@contextlib.asynccontextmanager
async def _inwx(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DnsProvider, str]]:
    sandbox = await start_server(inwx_app(None), name="inwx")
    provider = InwxDns(
        InwxClient(username="sandbox-user", password="sandbox-password", api_url=sandbox.url)
    )
    zone = f"zone{next(_zones)}.example"
    await provider.create_zone(zone=zone)
    try:
        yield provider, zone
    finally:
        await provider.aclose()
        await sandbox.stop()


@contextlib.asynccontextmanager
async def _powerdns(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DnsProvider, str]]:
    server: pdns_server.PowerDns = request.getfixturevalue("powerdns")
    provider = PowerDnsProvider(api_url=server.api_url, api_key=server.api_key)
    zone = f"zone{next(_zones)}.example"
    await provider.create_zone(zone=zone, nameservers=["ns1.example.net"])
    try:
        yield provider, zone
    finally:
        with contextlib.suppress(Exception):
            await provider.delete_zone(zone=zone)
        await provider.aclose()


DNS_PROVIDERS: dict[str, ProviderFactory] = {"inwx": _inwx, "powerdns": _powerdns}


@pytest_asyncio.fixture(params=sorted(DNS_PROVIDERS))
async def dns_provider(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DnsProvider, str]]:
    async with DNS_PROVIDERS[request.param](request) as pair:
        yield pair
