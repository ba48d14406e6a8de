"""The `DnsProvider` contract: every DNS adapter behaves the same (one run per provider)."""

from __future__ import annotations

import pytest

from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.error import CONFLICT, NOT_FOUND, ProviderError


def test_protocol(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, _ = dns_provider
    assert isinstance(provider, DnsProvider)


async def test_zone_listed_and_shown(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    assert zone in [z.name for z in await provider.list_zones()]
    assert (await provider.get_zone(zone=zone)).name == zone
    with pytest.raises(ProviderError) as caught:
        await provider.get_zone(zone="missing-zone.example")
    assert caught.value.code == NOT_FOUND


async def test_duplicate_zone_conflicts(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    with pytest.raises(ProviderError) as caught:
        await provider.create_zone(zone=zone)
    assert caught.value.code == CONFLICT


@pytest.mark.parametrize(
    ("name", "type_", "content", "priority"),
    [
        ("@", "A", "192.0.2.10", None),
        ("www", "AAAA", "2001:db8::10", None),
        ("shop", "CNAME", "www.example.net", None),
        ("@", "MX", "mail.example.net", 10),
        ("@", "TXT", "v=spf1 include:example.net -all", None),
        ("_sip._tcp", "SRV", "5 5060 sip.example.net", 10),
        ("@", "CAA", '0 issue "letsencrypt.org"', None),
    ],
)
async def test_create_list_update_delete(
    dns_provider: tuple[DnsProvider, str],
    name: str,
    type_: str,
    content: str,
    priority: int | None,
) -> None:
    provider, zone = dns_provider
    created = await provider.create_record(
        zone=zone, name=name, type=type_, content=content, ttl=300, priority=priority
    )
    assert (created.name, created.type, created.content, created.ttl) == (
        name,
        type_,
        content,
        300,
    )
    assert created.priority == priority
    listed = await provider.list_records(zone=zone, name=name, type=type_)
    assert [(r.id, r.content, r.priority) for r in listed] == [(created.id, content, priority)]

    updated = await provider.update_record(zone=zone, record_id=created.id, ttl=600)
    assert (updated.content, updated.ttl) == (content, 600)
    listed = await provider.list_records(zone=zone, name=name, type=type_)
    assert [(r.id, r.ttl) for r in listed] == [(updated.id, 600)]

    await provider.delete_record(zone=zone, record_id=updated.id)
    assert await provider.list_records(zone=zone, name=name, type=type_) == []
    with pytest.raises(ProviderError) as caught:
        await provider.delete_record(zone=zone, record_id=updated.id)
    assert caught.value.code == NOT_FOUND


async def test_update_content(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    created = await provider.create_record(zone=zone, name="app", type="A", content="192.0.2.1")
    updated = await provider.update_record(zone=zone, record_id=created.id, content="192.0.2.2")
    assert updated.content == "192.0.2.2"
    records = await provider.list_records(zone=zone, name="app", type="A")
    assert [r.content for r in records] == ["192.0.2.2"]


async def test_several_values_per_name(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    first = await provider.create_record(zone=zone, name="multi", type="A", content="192.0.2.1")
    second = await provider.create_record(zone=zone, name="multi", type="A", content="192.0.2.2")
    assert first.id != second.id
    await provider.delete_record(zone=zone, record_id=first.id)
    remaining = await provider.list_records(zone=zone, name="multi.", type="A")
    assert [r.content for r in remaining] == ["192.0.2.2"]


async def test_same_record_twice_conflicts(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    await provider.create_record(zone=zone, name="dup", type="A", content="192.0.2.1")
    with pytest.raises(ProviderError) as caught:
        await provider.create_record(zone=zone, name="dup", type="A", content="192.0.2.1")
    assert caught.value.code == CONFLICT


async def test_fqdn_names_are_relative(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    created = await provider.create_record(
        zone=zone, name=f"api.{zone}.", type="A", content="192.0.2.9"
    )
    assert created.name == "api"
    assert [r.name for r in await provider.list_records(zone=zone, type="A")] == ["api"]


async def test_soa_not_listed(dns_provider: tuple[DnsProvider, str]) -> None:
    provider, zone = dns_provider
    assert all(r.type != "SOA" for r in await provider.list_records(zone=zone))
