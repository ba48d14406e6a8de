from __future__ import annotations

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_admin, create_token
from tests.license.factories import create_customer, create_license


async def test_global_search_and_bulk_delete(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await admin_headers(runtime)
    customer = await create_customer(runtime, name="ACME Corp", email="admin@acme.com")
    licenses = [await create_license(runtime, customer=customer) for _ in range(2)]
    await client.post(
        f"/api/license/{licenses[0].id}/register-device",
        json={"hardware_hash": "acme-hw-1", "machine_name": "ACME-DESKTOP"},
        headers=admin,
    )
    await client.post("/leads/api/institutions", json={"name": "Acme Institute"}, headers=admin)
    found = (await client.get("/api/global-search?q=acme", headers=admin)).json()
    kinds = [r["type"] for r in found["results"]]
    assert kinds == ["customer", "license", "license", "device", "lead"]
    assert found["total"] == 5
    first = found["results"][0]
    assert first == {
        "type": "customer",
        "id": customer.id,
        "title": "ACME Corp",
        "subtitle": "admin@acme.com",
        "url": f"/customer/edit/{customer.id}",
    }
    license_hit = found["results"][1]
    assert license_hit["subtitle"] == "ACME Corp - Active"
    assert license_hit["url"] == f"/license/edit/{license_hit['id']}"
    only = (
        await client.get("/api/global-search?q=acme&type=license&limit=1", headers=admin)
    ).json()
    assert len(only["results"]) == 1
    assert only["total"] == 2
    await client.post(
        "/api/licenses/bulk-delete",
        json={"license_ids": [lic.id for lic in licenses]},
        headers=admin,
    )
    after = (await client.get("/api/global-search?q=acme", headers=admin)).json()
    assert [r["type"] for r in after["results"]] == ["customer", "lead"]
    metrics = (await client.get("/metrics")).text
    assert 'stellwerk_licenses{state="active"} 0.0' in metrics
    assert "stellwerk_licenses_deleted_total" in metrics


async def test_search_respects_scopes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await create_customer(runtime, name="ACME Corp")
    admin = await create_admin(runtime)
    leads_only = bearer(await create_token(runtime, admin, ["read:leads"]))
    found = (await client.get("/api/global-search?q=acme", headers=leads_only)).json()
    assert found == {"results": [], "total": 0}
    refused = await client.get("/api/global-search?q=acme&type=customer", headers=leads_only)
    assert refused.status_code == 403
    assert refused.json()["required"] == "read:customers"


async def test_every_result_url_opens_its_page(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """The documented admin panel paths lead to the matching pages of the web UI."""
    from tests.web.test_router import log_in

    admin = await admin_headers(runtime)
    customer = await create_customer(runtime, name="Linkable GmbH", email="it@linkable.example")
    license = await create_license(runtime, customer=customer)
    await client.post(
        f"/api/license/{license.id}/register-device",
        json={"hardware_hash": "linkable-hw", "machine_name": "LINKABLE-PC"},
        headers=admin,
    )
    await client.post("/leads/api/institutions", json={"name": "Linkable School"}, headers=admin)
    found = (await client.get("/api/global-search?q=linkable", headers=admin)).json()
    assert {r["type"] for r in found["results"]} == {"customer", "license", "device", "lead"}
    path = "/customer/edit/1"
    before_login = await client.get(path)
    assert before_login.status_code == 303
    assert before_login.headers["location"] == f"/login?next={path}"
    await create_admin(runtime, username="searcher")
    await log_in(client, "searcher")
    for result in found["results"]:
        page = await client.get(result["url"].split("#")[0], follow_redirects=True)
        assert page.status_code == 200, result
        assert result["title"] in page.text, result
    device = next(r for r in found["results"] if r["type"] == "device")
    assert device["url"] == f"/license/edit/{license.id}#device-{device['id']}"
    detail = await client.get(f"/ui/licenses/{license.id}")
    assert f'id="device-{device["id"]}"' in detail.text
