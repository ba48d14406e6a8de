from __future__ import annotations

import httpx
import pytest_asyncio

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.license.factories import create_customer, create_license


@pytest_asyncio.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    return await admin_headers(runtime)


async def test_select2_search_and_pages(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    await create_customer(runtime, name="ACME Corp", email="admin@acme.com")
    for number in range(3):
        await create_customer(runtime, name=f"Acme Branch {number}")
    await create_customer(runtime, name="Other Ltd")
    found = (await client.get("/api/customers?q=acme corp", headers=admin)).json()
    assert found["results"] == [
        {"id": found["items"][0]["id"], "text": "ACME Corp - admin@acme.com"}
    ]
    assert found["pagination"] == {"more": False}
    paged = (await client.get("/api/customers?q=acme&page=1&per_page=2", headers=admin)).json()
    assert paged["pagination"]["more"] is True
    assert paged["total"] == 4
    last = (await client.get("/api/customers?q=acme&page=2&per_page=2", headers=admin)).json()
    assert last["pagination"]["more"] is False
    everyone = (await client.get("/api/customers", headers=admin)).json()
    assert everyone["total"] == 5


async def test_crud_and_delete_rules(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/api/customers", json={"name": "ACME Corp", "email": "admin@acme.com"}, headers=admin
    )
    assert created.status_code == 201
    customer_id = created.json()["id"]
    bad = await client.post("/api/customers", json={"name": "X", "email": "nope"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["status"] == 422
    updated = await client.put(
        f"/api/customers/{customer_id}", json={"notes": "key account"}, headers=admin
    )
    assert updated.json()["notes"] == "key account"
    customer = await create_customer(runtime)
    await create_license(runtime, customer=customer)
    refused = await client.delete(f"/api/customers/{customer.id}", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["code"] == "CUSTOMER_HAS_LICENSES"
    gone = await client.delete(f"/api/customers/{customer.id}?cascade=true", headers=admin)
    assert gone.status_code == 200
    assert (await client.get("/api/licenses", headers=admin)).json()["total"] == 0
    assert (await client.get(f"/api/customers/{customer.id}", headers=admin)).status_code == 404
    assert (await client.delete(f"/api/customers/{customer_id}", headers=admin)).status_code == 200
