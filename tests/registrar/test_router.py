"""Registrar domains and contacts through the API, against the INWX sandbox."""

from __future__ import annotations

import asyncio

import httpx

from stellwerk.runtime import Runtime
from tests.factories import (
    admin_headers,
    bearer,
    create_admin,
    create_token,
    create_user,
    jwt_for,
)
from tests.provider.running import Sandboxes


async def test_check(client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes) -> None:
    headers = await admin_headers(runtime)
    response = await client.post(
        "/api/registrar/domains/check",
        json={"domains": ["demo-shop.de", "example.com", "ab.io"]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    free, taken, premium = response.json()["domains"]
    assert free == {
        "domain": "demo-shop.de",
        "available": True,
        "price": 4.9,
        "currency": "EUR",
        "premium": False,
        "status": "free",
    }
    assert taken["available"] is False
    assert (premium["premium"], premium["price"]) == (True, 2500)
    # Declared as it is answered: a number, with the currency beside it.
    schemas = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
    for name in ("DomainCheckRead", "DomainRead"):
        price = schemas[name]["properties"]["price"]
        assert {"type": "number"} in price["anyOf"], (name, price)
    get = await client.get(
        "/api/registrar/domains/check", params={"domain": "demo-shop.de"}, headers=headers
    )
    assert get.json()["domains"][0]["available"] is True
    bad = await client.post(
        "/api/registrar/domains/check", json={"domains": ["no spaces.de"]}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "domains"


async def test_register_with_remembered_default_contact(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await client.post(
        "/api/registrar/contacts",
        json={
            "type": "ORG",
            "name": "Max Mustermann",
            "organization": "Firma GmbH",
            "street": "Musterstraße 1",
            "city": "Musterstadt",
            "postal_code": "12345",
            "country_code": "DE",
            "phone": "+49.123456789",
            "email": "admin@example.com",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["is_default"] is True
    handle = contact["provider_contact_id"]
    assert handle in sandboxes.inwx_state["contacts"]

    response = await client.post(
        "/api/registrar/domains", json={"domain": "Demo-Shop.de"}, headers=headers
    )
    assert response.status_code == 201, response.text
    domain = response.json()
    assert (domain["name"], domain["status"], domain["origin"]) == (
        "demo-shop.de",
        "active",
        "register",
    )
    assert (domain["price"], domain["currency"]) == (4.9, "EUR")
    assert domain["contact_id"] == contact["id"]
    registered = sandboxes.inwx_state["domains"]["demo-shop.de"]
    assert {registered[r] for r in ("registrant", "admin", "tech", "billing")} == {int(handle)}

    again = await client.post(
        "/api/registrar/domains", json={"domain": "demo-shop.de"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "domain_taken"
    taken = await client.post(
        "/api/registrar/domains", json={"domain": "example.com"}, headers=headers
    )
    assert taken.status_code == 409
    assert list(sandboxes.inwx_state["domains"]) == ["demo-shop.de"]

    listed = await client.get("/api/registrar/domains", headers=headers)
    assert [d["name"] for d in listed.json()["items"]] == ["demo-shop.de"]
    shown = await client.get("/api/registrar/domains/demo-shop.de", headers=headers)
    assert shown.json()["id"] == domain["id"]

    # Another default: the next domain uses it.
    adopted = await client.post(
        "/api/registrar/contacts", json={"provider_contact_id": "12345"}, headers=headers
    )
    assert adopted.status_code == 201
    contacts = (await client.get("/api/registrar/contacts", headers=headers)).json()
    assert [c["is_default"] for c in contacts] == [False, True]
    back = await client.put(
        f"/api/registrar/contacts/{contact['id']}", json={"default": True}, headers=headers
    )
    assert back.json()["is_default"] is True


async def test_sandbox_adopts_the_documented_contact(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    response = await client.post(
        "/api/registrar/domains", json={"domain": "first-shop.de"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert sandboxes.inwx_state["domains"]["first-shop.de"]["registrant"] == 12345


async def test_transfer_pending_until_done(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    response = await client.post(
        "/api/registrar/domains/transfer",
        json={"domain": "moving-shop.de", "auth_code": "ABC123XYZ"},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert "ABC123XYZ" not in response.text
    status = "pending"
    for _ in range(40):
        status = (
            await client.get("/api/registrar/domains/moving-shop.de", headers=headers)
        ).json()["status"]
        if status == "active":
            break
        await asyncio.sleep(0.1)
    assert status == "active"
    audit = await client.get("/api/admin/audit", headers=headers)
    assert "ABC123XYZ" not in audit.text


async def test_errors_and_scopes(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    invalid = await client.post(
        "/api/registrar/domains", json={"domain": "-bad-.de"}, headers=headers
    )
    assert invalid.status_code == 422
    missing = await client.get("/api/registrar/domains/nothing-here.de", headers=headers)
    assert missing.status_code == 404
    no_details = await client.post("/api/registrar/contacts", json={"name": "x"}, headers=headers)
    assert no_details.status_code == 422
    unknown = await client.post(
        "/api/registrar/contacts", json={"provider_contact_id": "999"}, headers=headers
    )
    assert unknown.status_code == 404
    admin = await create_admin(runtime)
    reader = bearer(await create_token(runtime, admin, ["read:dns"]))
    denied = await client.post(
        "/api/registrar/domains", json={"domain": "x-shop.de"}, headers=reader
    )
    assert denied.status_code == 403
    assert denied.json()["required"] == "write:dns"


async def test_register_and_transfer_are_for_admins(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    """Buying or moving a domain charges the registrar account: a non-admin's login or token is
    refused like on any admin-only route, and nothing reaches the registrar."""
    user = await create_user(runtime)
    refused_as = {
        "login": bearer(jwt_for(runtime, user)),
        "token": bearer(await create_token(runtime, user, ["read:dns", "write:dns"])),
    }
    calls = [
        ("/api/registrar/domains", {"domain": "user-shop.de"}),
        ("/api/registrar/domains/transfer", {"domain": "user-move.de", "auth_code": "ABC123XYZ"}),
    ]
    for name, headers in refused_as.items():
        for path, body in calls:
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 403, (name, path, response.text)
            assert response.json() == {
                "error": "forbidden",
                "code": "missing_scope",
                "required": "admin",
                "detail": "This credential lacks the scope admin",
            }, (name, path)
        # Reading stays open to every user.
        check = await client.post(
            "/api/registrar/domains/check", json={"domains": ["user-shop.de"]}, headers=headers
        )
        assert check.status_code == 200, check.text
        listed = await client.get("/api/registrar/domains", headers=headers)
        assert listed.status_code == 200
    assert sandboxes.inwx_state["domains"] == {}
    listed = await client.get("/api/registrar/domains", headers=await admin_headers(runtime))
    assert listed.json()["items"] == []

    # An admin's login, and an admin's token narrowed to write:dns, still buy and move.
    admin = await create_admin(runtime)
    for headers, domain in [
        (bearer(jwt_for(runtime, admin)), "admin-shop.de"),
        (bearer(await create_token(runtime, admin, ["write:dns"])), "token-shop.de"),
    ]:
        bought = await client.post(
            "/api/registrar/domains", json={"domain": domain}, headers=headers
        )
        assert bought.status_code == 201, bought.text
    moved = await client.post(
        "/api/registrar/domains/transfer",
        json={"domain": "admin-move.de", "auth_code": "ABC123XYZ"},
        headers=bearer(jwt_for(runtime, admin)),
    )
    assert moved.status_code == 202, moved.text
    assert sorted(sandboxes.inwx_state["domains"]) == [
        "admin-move.de",
        "admin-shop.de",
        "token-shop.de",
    ]


async def test_zones_follow_registrations(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    registered = await client.post(
        "/api/registrar/domains", json={"domain": "zone-shop.de"}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    # Right after: its zone is there and takes records.
    record = await client.post(
        "/api/dns/zones/zone-shop.de/records",
        json={"name": "www", "type": "A", "content": "192.0.2.8"},
        headers=headers,
    )
    assert record.status_code == 201, record.text
    zones = (await client.get("/api/dns/zones", headers=headers)).json()
    assert ("zone-shop.de", "inwx") in [(z["name"], z["provider"]) for z in zones]
    assert "zone-shop.de" in sandboxes.inwx_state["zones"]

    # A transfer likewise, while it is still pending.
    moved = await client.post(
        "/api/registrar/domains/transfer",
        json={"domain": "moved-zone.de", "auth_code": "ABC123XYZ"},
        headers=headers,
    )
    assert moved.status_code == 202, moved.text
    record = await client.post(
        "/api/dns/zones/moved-zone.de/records",
        json={"name": "@", "type": "TXT", "content": "moved"},
        headers=headers,
    )
    assert record.status_code == 201, record.text

    # A zone that existed at the provider before is kept as it is (with its records).
    existing = await client.post(
        "/api/dns/zones", json={"name": "had-zone.de", "provider": "inwx"}, headers=headers
    )
    assert existing.status_code == 201
    await client.post(
        "/api/dns/zones/had-zone.de/records",
        json={"name": "old", "type": "A", "content": "192.0.2.9"},
        headers=headers,
    )
    again = await client.post(
        "/api/registrar/domains", json={"domain": "had-zone.de"}, headers=headers
    )
    assert again.status_code == 201, again.text
    kept = await client.get(
        "/api/dns/zones/had-zone.de/records", params={"name": "old"}, headers=headers
    )
    assert [r["content"] for r in kept.json()] == ["192.0.2.9"]


async def test_a_zone_the_dns_provider_refuses_stops_the_purchase(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    refused = await client.post(
        "/api/registrar/domains",
        json={"domain": "no-zone-shop.de", "dns_provider": "nope"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "dns_provider"
    assert "no-zone-shop.de" not in sandboxes.inwx_state["domains"]
