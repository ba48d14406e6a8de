"""DNS zones and records through the API: INWX (sandbox) and PowerDNS (real), validation."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from stellwerk.dns.service import RecordNotOwned, setup_project_dns
from stellwerk.provider.dns.inwx.adapter import InwxDns
from stellwerk.provider.registrar.inwx.adapter import InwxClient
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_token, create_user
from tests.provider.dns.pdns_server import PowerDns, resolve
from tests.provider.running import Sandboxes

VALID = [
    {"name": "@", "type": "A", "content": "192.0.2.1"},
    {"name": "www", "type": "AAAA", "content": "2001:db8::1"},
    {"name": "shop", "type": "CNAME", "content": "www.example.net."},
    {"name": "@", "type": "MX", "content": "mail.example.net", "priority": 10},
    {"name": "@", "type": "TXT", "content": "v=spf1 -all"},
    {"name": "_sip._tcp", "type": "SRV", "content": "5 5060 sip.example.net", "priority": 10},
    {"name": "@", "type": "CAA", "content": '0 issue "letsencrypt.org"'},
]
INVALID = [
    ({"name": "@", "type": "A", "content": "300.1.1.1"}, "content"),
    ({"name": "@", "type": "A", "content": "2001:db8::1"}, "content"),
    ({"name": "@", "type": "CNAME", "content": "x.example.net"}, "name"),
    ({"name": "@", "type": "MX", "content": "mail.example.net"}, "priority"),
    ({"name": "sip", "type": "SRV", "content": "5 5060 sip.example.net", "priority": 1}, "name"),
    (
        {"name": "_sip._tcp", "type": "SRV", "content": "5 sip.example.net", "priority": 1},
        "content",
    ),
    ({"name": "@", "type": "CAA", "content": "issue letsencrypt.org"}, "content"),
    ({"name": "bad name", "type": "A", "content": "192.0.2.1"}, "name"),
]


async def _zone(client: httpx.AsyncClient, headers: dict[str, str], provider: str) -> str:
    zone = f"z{uuid.uuid4().hex[:8]}.example"
    response = await client.post(
        "/api/dns/zones", json={"name": zone, "provider": provider}, headers=headers
    )
    assert response.status_code == 201, response.text
    return zone


async def _roundtrip(client: httpx.AsyncClient, headers: dict[str, str], zone: str) -> None:
    ids = []
    for record in VALID:
        response = await client.post(f"/api/dns/zones/{zone}/records", json=record, headers=headers)
        assert response.status_code == 201, (record, response.text)
        body = response.json()
        assert body["type"] == record["type"]
        ids.append(body["id"])
    for record, field in INVALID:
        response = await client.post(f"/api/dns/zones/{zone}/records", json=record, headers=headers)
        assert response.status_code == 422, (record, response.text)
        assert response.json().get("field") == field, (record, response.json())
    listed = await client.get(
        f"/api/dns/zones/{zone}/records", params={"type": "A"}, headers=headers
    )
    (a_record,) = listed.json()
    assert (a_record["name"], a_record["content"], a_record["fqdn"]) == ("@", "192.0.2.1", zone)
    updated = await client.put(
        f"/api/dns/zones/{zone}/records/{a_record['id']}",
        json={"content": "192.0.2.2", "ttl": 600},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["content"], updated.json()["ttl"]) == ("192.0.2.2", 600)
    bad_update = await client.put(
        f"/api/dns/zones/{zone}/records/{updated.json()['id']}",
        json={"content": "nope"},
        headers=headers,
    )
    assert bad_update.status_code == 422
    deleted = await client.delete(
        f"/api/dns/zones/{zone}/records/{updated.json()['id']}", headers=headers
    )
    assert deleted.status_code == 204
    gone = await client.delete(
        f"/api/dns/zones/{zone}/records/{updated.json()['id']}", headers=headers
    )
    assert gone.status_code == 404
    remaining = await client.get(f"/api/dns/zones/{zone}/records", headers=headers)
    assert "A" not in {r["type"] for r in remaining.json()}


async def test_records_at_inwx(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    zone = await _zone(client, headers, "inwx")
    await _roundtrip(client, headers, zone)
    zones = await client.get("/api/dns/zones", headers=headers)
    assert [(z["name"], z["provider"]) for z in zones.json()] == [(zone, "inwx")]


@pytest.mark.slow
async def test_records_at_powerdns_resolve(
    client: httpx.AsyncClient, runtime: Runtime, with_powerdns: PowerDns
) -> None:
    headers = await admin_headers(runtime)
    zone = await _zone(client, headers, "powerdns")
    await _roundtrip(client, headers, zone)
    created = await client.post(
        f"/api/dns/zones/{zone}/records",
        json={"name": "app", "type": "A", "content": "192.0.2.77", "ttl": 60},
        headers=headers,
    )
    assert created.status_code == 201
    assert await asyncio.to_thread(resolve, with_powerdns, f"app.{zone}", "A") == ["192.0.2.77"]


async def test_unknown_provider_and_scopes(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    response = await client.post(
        "/api/dns/zones", json={"name": "x.example", "provider": "nope"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "provider"
    user = await create_user(runtime)
    reader = bearer(await create_token(runtime, user, ["read:dns"]))
    denied = await client.post(
        "/api/dns/zones/x.example/records",
        json={"type": "A", "content": "192.0.2.1"},
        headers=reader,
    )
    assert denied.status_code == 403
    assert denied.json()["required"] == "write:dns"


async def test_setup_project_dns_is_idempotent(sandboxes: Sandboxes) -> None:
    dns = InwxDns(
        InwxClient(username="sandbox-a", password="sandbox-b", api_url=sandboxes.inwx.url)
    )
    try:
        first = await setup_project_dns(dns, "idem-shop.de", "192.0.2.10")
        second = await setup_project_dns(dns, "idem-shop.de", "192.0.2.10")
        assert [r.id for r in first] == [r.id for r in second]
        # A stray duplicate and a changed address: updated, never duplicated.
        await dns.create_record(zone="idem-shop.de", name="www", type="A", content="192.0.2.99")
        third = await setup_project_dns(dns, "idem-shop.de", "192.0.2.11")
        records = await dns.list_records(zone="idem-shop.de", type="A")
        assert sorted((r.name, r.content) for r in records) == [
            ("@", "192.0.2.11"),
            ("www", "192.0.2.11"),
        ]
        assert [r.id for r in third] == [r.id for r in first]
    finally:
        await dns.aclose()


async def test_records_at_hetzner_dns(client: httpx.AsyncClient, runtime: Runtime) -> None:
    from stellwerk.provider import connect
    from stellwerk.provider.compute.hetzner.sandbox import create_app
    from stellwerk.provider.sandbox.kit import start_server

    sandbox = await start_server(create_app(None), name="hetzner", suffix="/v1")
    connect.ENDPOINT_OVERRIDES["hetzner"] = sandbox.url
    try:
        headers = await admin_headers(runtime)
        zone = await _zone(client, headers, "hetzner")
        await _roundtrip(client, headers, zone)
    finally:
        connect.ENDPOINT_OVERRIDES.pop("hetzner", None)
        await sandbox.stop()


async def test_cname_never_shares_its_name(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    zone = await _zone(client, headers, "inwx")
    records = f"/api/dns/zones/{zone}/records"
    cname = await client.post(
        records,
        json={"name": "www", "type": "CNAME", "content": "shop.example.net"},
        headers=headers,
    )
    assert cname.status_code == 201, cname.text
    for name, type_, content in (
        ("www", "TXT", "hello"),
        ("www", "AAAA", "2001:db8::1"),
        (f"www.{zone}.", "A", "192.0.2.1"),
        ("www", "CNAME", "other.example.net"),
    ):
        refused = await client.post(
            records, json={"name": name, "type": type_, "content": content}, headers=headers
        )
        assert refused.status_code == 409, (type_, refused.text)
        body = refused.json()
        assert (body["error"], body["code"], body["field"]) == (
            "conflict",
            "cname_conflict",
            "name",
        )
        assert f"www.{zone}" in body["detail"], body
        assert "RFC 1034" in body["detail"], body
        assert body["conflicting"][0]["type"] == "CNAME"
    # The other way round: a CNAME where other records are.
    await client.post(
        records, json={"name": "mail", "type": "A", "content": "192.0.2.5"}, headers=headers
    )
    refused = await client.post(
        records, json={"name": "mail", "type": "CNAME", "content": "x.example.net"}, headers=headers
    )
    assert refused.status_code == 409
    assert "already has A records" in refused.json()["detail"]
    apex = await client.post(
        records, json={"name": "@", "type": "CNAME", "content": "x.example.net"}, headers=headers
    )
    assert apex.status_code == 422
    assert (apex.json()["code"], apex.json()["field"]) == ("cname_at_apex", "name")
    assert "apex" in apex.json()["detail"]
    listed = await client.get(records, params={"name": "www"}, headers=headers)
    assert [r["type"] for r in listed.json()] == ["CNAME"]


async def test_setup_project_dns_replaces_only_its_own_cname(sandboxes: Sandboxes) -> None:
    dns = InwxDns(
        InwxClient(username="sandbox-a", password="sandbox-b", api_url=sandboxes.inwx.url)
    )
    zone = f"c{uuid.uuid4().hex[:8]}.de"
    try:
        await dns.create_zone(zone=zone)
        theirs = await dns.create_record(
            zone=zone, name="www", type="CNAME", content="elsewhere.example.net"
        )
        with pytest.raises(RecordNotOwned) as refused:
            await setup_project_dns(dns, zone, "192.0.2.10")
        assert f"www.{zone} is a CNAME" in refused.value.message
        # Nothing was written: the apex got no A record either.
        assert await dns.list_records(zone=zone, type="A") == []
        records = await setup_project_dns(dns, zone, "192.0.2.10", owned={theirs.id})
        assert sorted((r.name, r.type) for r in records) == [("@", "A"), ("www", "A")]
        assert await dns.list_records(zone=zone, type="CNAME") == []
    finally:
        await dns.aclose()
