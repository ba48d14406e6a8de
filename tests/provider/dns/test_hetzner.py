"""Hetzner DNS (Cloud API zones and rrsets) against the Hetzner sandbox: the whole `DnsProvider`
contract suite, run once more with this module's `dns_provider`, plus Hetzner's value forms."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import constant_backoff
from stellwerk.provider.compute.hetzner.sandbox import create_app
from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.dns.hetzner.adapter import HetznerDns
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server
from tests.provider.dns.test_contract import *  # noqa: F403 - the contract, for Hetzner

_zones = itertools.count(1)
TOKEN = "sandbox-dns-token"


@pytest_asyncio.fixture(scope="module")
async def hetzner_sandbox() -> AsyncIterator[RunningSandbox]:
    sandbox = await start_server(create_app(None), name="hetzner", suffix="/v1")
    yield sandbox
    await sandbox.stop()


@pytest_asyncio.fixture
async def dns_provider(
    hetzner_sandbox: RunningSandbox,
) -> AsyncIterator[tuple[DnsProvider, str]]:
    provider = HetznerDns(
        token=TOKEN,
        limiter=RateLimiter(None),
        base_url=hetzner_sandbox.url,
        backoff=constant_backoff(0.05),
    )
    zone = f"hzone{next(_zones)}.example"
    await provider.create_zone(zone=zone)
    try:
        yield provider, zone
    finally:
        await provider.delete_zone(zone=zone)
        await provider.aclose()


async def test_values_are_stored_in_zone_file_form(
    dns_provider: tuple[DnsProvider, str], hetzner_sandbox: RunningSandbox
) -> None:
    provider, zone = dns_provider
    await provider.create_record(
        zone=zone, name="@", type="MX", content="mail.example.net", priority=10
    )
    await provider.create_record(zone=zone, name="@", type="TXT", content="v=spf1 -all")
    async with httpx.AsyncClient(
        base_url=hetzner_sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        rrsets = (await http.get(f"/zones/{zone}/rrsets")).json()["rrsets"]
    values = {(r["name"], r["type"]): [v["value"] for v in r["records"]] for r in rrsets}
    assert values[("@", "MX")] == ["10 mail.example.net."]
    assert values[("@", "TXT")] == ['"v=spf1 -all"']


async def test_hcloud_zones_against_the_sandbox(hetzner_sandbox: RunningSandbox) -> None:
    """The official client's DNS calls get the shapes the Cloud API gives."""
    import asyncio

    import hcloud
    from hcloud.zones import ZoneRecord

    def run() -> tuple[list[str], int]:
        client = hcloud.Client(TOKEN, api_endpoint=hetzner_sandbox.url, poll_interval=0.05)
        created = client.zones.create(name="hcloud-zone.example", mode="primary", ttl=3600)
        zone = client.zones.get("hcloud-zone.example")
        rrset = client.zones.create_rrset(
            zone, name="www", type="A", ttl=300, records=[ZoneRecord(value="192.0.2.1")]
        ).rrset
        client.zones.add_rrset_records(
            rrset, records=[ZoneRecord(value="192.0.2.2")]
        ).wait_until_finished()
        values = [r.value for r in client.zones.get_rrset(zone, "www", "A").records or []]
        count = len(client.zones.get_all())
        client.zones.delete(zone)
        assert created.zone.name == "hcloud-zone.example"
        return values, count

    values, count = await asyncio.to_thread(run)
    assert values == ["192.0.2.1", "192.0.2.2"]
    assert count >= 1


async def test_zone_responses_match_the_spec(hetzner_sandbox: RunningSandbox) -> None:
    from tests.provider.compute import spec

    name = "hetzner.json"
    async with httpx.AsyncClient(
        base_url=hetzner_sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        created = await http.post("/zones", json={"name": "spec-zone.example", "mode": "primary"})
        spec.validate(name, spec.response_schema(name, "/zones", "post", "201"), created.json())
        added = await http.post(
            "/zones/spec-zone.example/rrsets",
            json={"name": "www", "type": "A", "records": [{"value": "192.0.2.1"}]},
        )
        assert added.status_code == 201
        for path, documented in (
            ("/zones", "/zones"),
            ("/zones/spec-zone.example", "/zones/{id_or_name}"),
            ("/zones/spec-zone.example/rrsets", "/zones/{id_or_name}/rrsets"),
            (
                "/zones/spec-zone.example/rrsets/www/A",
                "/zones/{id_or_name}/rrsets/{rr_name}/{rr_type}",
            ),
        ):
            response = await http.get(path)
            assert response.status_code == 200, path
            spec.validate(
                name, spec.response_schema(name, documented, "get", "200"), response.json()
            )
        await http.delete("/zones/spec-zone.example")


async def test_a_second_value_with_another_ttl_joins_the_rrset(
    dns_provider: tuple[DnsProvider, str],
) -> None:
    """`add_records` refuses a TTL that differs from the rrset's ("If set, and the RRSet being
    updated already has a TTL, the values must be the same", hetzner.json); a set has one TTL,
    so the newest TTL applies to the set, as with PowerDNS."""
    provider, zone = dns_provider
    await provider.create_record(zone=zone, name="www", type="A", content="192.0.2.1", ttl=300)
    await provider.create_record(zone=zone, name="www", type="A", content="192.0.2.2", ttl=600)
    records = await provider.list_records(zone=zone, name="www", type="A")
    assert {r.content for r in records} == {"192.0.2.1", "192.0.2.2"}
    assert {r.ttl for r in records} == {600}


async def test_the_sandbox_refuses_a_different_ttl_in_add_records(
    hetzner_sandbox: RunningSandbox,
) -> None:
    async with httpx.AsyncClient(
        base_url=hetzner_sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        await http.post("/zones", json={"name": "ttl-zone.example", "mode": "primary"})
        path = "/zones/ttl-zone.example/rrsets/www/A/actions/add_records"
        first = await http.post(path, json={"records": [{"value": "192.0.2.1"}], "ttl": 300})
        assert first.status_code == 201
        second = await http.post(path, json={"records": [{"value": "192.0.2.2"}], "ttl": 600})
        assert second.status_code == 400
        assert second.json()["error"]["details"]["fields"][0]["name"] == "ttl"
        rrsets = (await http.get("/zones/ttl-zone.example/rrsets")).json()["rrsets"]
        await http.delete("/zones/ttl-zone.example")
    # A new zone has its SOA and three NS records (hetzner.json, POST /zones).
    assert {(r["name"], r["type"]) for r in rrsets} >= {("@", "SOA"), ("@", "NS")}
    assert len(next(r for r in rrsets if r["type"] == "NS")["records"]) == 3


async def test_a_429_without_retry_after_is_retried_after_a_second(
    dns_provider: tuple[DnsProvider, str], hetzner_sandbox: RunningSandbox
) -> None:
    import time

    provider, zone = dns_provider
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{hetzner_sandbox.port}/__sandbox__/faults",
            json={"kind": "rate_limit", "count": 1},
        )
    started = time.monotonic()
    assert await provider.list_records(zone=zone) is not None
    assert time.monotonic() - started >= 0.9
