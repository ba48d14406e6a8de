"""PowerDNS: records created through the adapter resolve from the real server."""

from __future__ import annotations

import asyncio

import pytest

from stellwerk.provider.dns.powerdns.adapter import PowerDnsProvider
from stellwerk.provider.error import INVALID_CREDENTIALS, VALIDATION_ERROR, ProviderError
from tests.provider.dns.pdns_server import PowerDns, resolve

pytestmark = pytest.mark.slow


async def test_records_resolve_with_dnspython(powerdns: PowerDns) -> None:
    provider = PowerDnsProvider(api_url=powerdns.api_url, api_key=powerdns.api_key)
    try:
        await provider.create_zone(zone="resolve.example", nameservers=["ns1.resolve.example"])
        await provider.create_record(
            zone="resolve.example", name="@", type="A", content="192.0.2.80"
        )
        await provider.create_record(
            zone="resolve.example", name="www", type="CNAME", content="resolve.example"
        )
        await provider.create_record(
            zone="resolve.example", name="@", type="TXT", content="hello world"
        )
        await provider.create_record(
            zone="resolve.example", name="@", type="MX", content="mail.resolve.example", priority=10
        )
        assert await asyncio.to_thread(resolve, powerdns, "resolve.example", "A") == ["192.0.2.80"]
        assert await asyncio.to_thread(resolve, powerdns, "www.resolve.example", "CNAME") == [
            "resolve.example."
        ]
        assert await asyncio.to_thread(resolve, powerdns, "resolve.example", "TXT") == [
            '"hello world"'
        ]
        assert await asyncio.to_thread(resolve, powerdns, "resolve.example", "MX") == [
            "10 mail.resolve.example."
        ]
    finally:
        await provider.delete_zone(zone="resolve.example")
        await provider.aclose()


async def test_bad_key_and_bad_value(powerdns: PowerDns) -> None:
    wrong = PowerDnsProvider(api_url=powerdns.api_url, api_key="wrong")
    with pytest.raises(ProviderError) as caught:
        await wrong.list_zones()
    assert caught.value.code == INVALID_CREDENTIALS
    await wrong.aclose()
    provider = PowerDnsProvider(api_url=powerdns.api_url, api_key=powerdns.api_key)
    await provider.create_zone(zone="bad.example")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.create_record(zone="bad.example", name="x", type="A", content="not-ip")
        assert caught.value.code == VALIDATION_ERROR
    finally:
        await provider.delete_zone(zone="bad.example")
        await provider.aclose()
