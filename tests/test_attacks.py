"""The attacks a customer account could try, replayed through the API: each is refused with 403
or 404 in its surface's envelope and leaves nothing changed (read back as the admin and at the
provider's sandbox). Module and event-stream attacks are in tests/module; forwarded addresses
and huge heads in test_proxy_limits.py; orders and costs in tests/server/test_orders.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from stellwerk.models import DnsZone, RegistrarContact
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_user, jwt_for
from tests.provider.running import Sandboxes, provider_sandboxes


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandboxes]:
    monkeypatch.setenv("STELLWERK_SANDBOX_INWX_TRANSFER_SECONDS", "0.5")
    async with provider_sandboxes() as running:
        yield running


async def _records(client: httpx.AsyncClient, admin: dict[str, str], zone: str) -> Any:
    response = await client.get(f"/api/dns/zones/{zone}/records", headers=admin)
    assert response.status_code == 200, response.text
    return sorted((r["name"], r["type"], r["content"]) for r in response.json())


async def test_a_customer_cannot_touch_another_customers_or_the_companys_zone(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    admin = await admin_headers(runtime)
    bob, carol = await create_user(runtime), await create_user(runtime)
    suffix = uuid.uuid4().hex[:6]
    company, bobs = f"firma-{suffix}.de", f"bob-{suffix}.de"
    assert (await client.post("/api/dns/zones", json={"name": company}, headers=admin)).is_success
    assert (await client.post("/api/dns/zones", json={"name": bobs}, headers=admin)).is_success
    async with runtime.database.session() as session:
        zone = await session.scalar(select(DnsZone).where(DnsZone.name == bobs))
        assert zone is not None
        zone.owner_user_id = bob.id  # as provisioning bob's project records it
    for zone_name in (company, bobs):
        made = await client.post(
            f"/api/dns/zones/{zone_name}/records",
            json={"name": "www", "type": "A", "content": "192.0.2.10", "ttl": 3600},
            headers=admin,
        )
        assert made.status_code == 201, made.text
    www = (await client.get(f"/api/dns/zones/{bobs}/records", headers=admin)).json()[0]["id"]
    before = {z: await _records(client, admin, z) for z in (company, bobs)}

    as_carol = bearer(jwt_for(runtime, carol))
    attempts = [
        ("PUT", f"/api/dns/zones/{bobs}/records/{www}", {"content": "198.51.100.77"}),
        ("DELETE", f"/api/dns/zones/{bobs}/records/{www}", None),
        ("GET", f"/api/dns/zones/{bobs}/records", None),
        (
            "POST",
            f"/api/dns/zones/{company}/records",
            {"name": "mail", "type": "MX", "content": "evil.example", "ttl": 300, "priority": 1},
        ),
        ("DELETE", f"/api/dns/zones/{company}", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=as_carol)
        assert response.status_code in (403, 404), (method, path, response.text)
        assert set(response.json()) >= {"error", "code", "detail"}
    # Carol cannot add a zone (a company zone at the default provider) either.
    added = await client.post("/api/dns/zones", json={"name": company}, headers=as_carol)
    assert added.status_code == 403
    assert added.json()["code"] == "role_required"
    assert (await client.get("/api/dns/zones", headers=as_carol)).json() == []
    bobs_zones = await client.get("/api/dns/zones", headers=bearer(jwt_for(runtime, bob)))
    assert [z["name"] for z in bobs_zones.json()] == [bobs]
    assert {z: await _records(client, admin, z) for z in (company, bobs)} == before


async def test_a_customer_cannot_decide_who_holds_the_companys_domains(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    admin = await admin_headers(runtime)
    carol = bearer(jwt_for(runtime, await create_user(runtime)))
    contact = {
        "type": "PERSON",
        "name": "Carol Mallory",
        "street": "Evil 1",
        "city": "X",
        "postal_code": "1",
        "country_code": "DE",
        "phone": "+49.1",
        "email": "c@evil.example",
        "default": True,
    }
    created = await client.post("/api/registrar/contacts", json=contact, headers=carol)
    assert created.status_code == 403
    assert created.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": "admin",
        "detail": "This credential lacks the scope admin",
    }
    assert (await client.get("/api/registrar/contacts", headers=carol)).status_code == 403
    adopted = await client.post(
        "/api/registrar/contacts", json={"provider_contact_id": "12345"}, headers=admin
    )
    assert adopted.status_code == 201, adopted.text
    made_default = await client.put(
        f"/api/registrar/contacts/{adopted.json()['id']}", json={"default": True}, headers=carol
    )
    assert made_default.status_code == 403
    async with runtime.database.session() as session:
        contacts = (await session.scalars(select(RegistrarContact))).all()
        assert [(c.name, c.is_default) for c in contacts] == [(contacts[0].name, True)]
    # The admin's next registration uses the company's contact in every role.
    bought = await client.post(
        "/api/registrar/domains", json={"domain": f"neu-{uuid.uuid4().hex[:6]}.de"}, headers=admin
    )
    assert bought.status_code == 201, bought.text
    assert bought.json()["contact_id"] == adopted.json()["id"]


async def test_concurrent_adoption_of_one_contact_gives_one_row_and_409s(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    admin = await admin_headers(runtime)
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/registrar/contacts",
                json={"provider_contact_id": "12345", "default": False},
                headers=admin,
            )
            for _ in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"contact_exists"}
    listed = await client.get("/api/registrar/contacts", headers=admin)
    assert len(listed.json()) == 1


async def test_concurrent_registrations_and_transfers_of_one_domain(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    """The first ever registration adopts the sandbox's contact too: both races at once."""
    admin = await admin_headers(runtime)
    name = f"race-{uuid.uuid4().hex[:6]}.de"
    answers = await asyncio.gather(
        *(
            client.post("/api/registrar/domains", json={"domain": name}, headers=admin)
            for _ in range(4)
        ),
        client.post(
            "/api/registrar/domains/transfer",
            json={"domain": name, "auth_code": "ABC123XYZ"},
            headers=admin,
        ),
    )
    statuses = sorted(a.status_code for a in answers)
    assert all(s in (201, 202, 409) for s in statuses), [a.text for a in answers]
    assert statuses.count(201) + statuses.count(202) == 1, [a.text for a in answers]
    listed = await client.get("/api/registrar/domains", headers=admin)
    assert [d["name"] for d in listed.json()["items"]] == [name]


async def test_concurrent_zone_adds_give_one_zone(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    admin = await admin_headers(runtime)
    name = f"zone-{uuid.uuid4().hex[:6]}.de"
    answers = await asyncio.gather(
        *(client.post("/api/dns/zones", json={"name": name}, headers=admin) for _ in range(4))
    )
    assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
    zones = (await client.get("/api/dns/zones", headers=admin)).json()
    assert [z["name"] for z in zones] == [name]


async def test_concurrent_redirect_domain_creates_give_one_domain(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    alice = bearer(jwt_for(runtime, await create_user(runtime)))
    bob = bearer(jwt_for(runtime, await create_user(runtime)))
    name = f"race-{uuid.uuid4().hex[:6]}.de"
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/domains",
                json={"domain": name, "target_url": "https://example.org"},
                headers=who,
            )
            for who in (alice, bob, alice, bob)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, [a.text for a in answers]
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
