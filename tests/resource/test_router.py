from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest_asyncio

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.license.factories import create_license


@pytest_asyncio.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    return await admin_headers(runtime)


async def _pool(
    client: httpx.AsyncClient, admin: dict[str, str], kind: str, count: int
) -> list[int]:
    ids = []
    for number in range(count):
        created = await client.post(
            "/api/resources",
            json={"type": kind, "identifier": f"{kind.upper()}-{number:03d}"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def test_resource_type_is_another_name_for_type(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # `/api/resources/allocate` calls a resource's type `resource_type`; creating takes both.
    created = await client.post(
        "/api/resources",
        json={"resource_type": "server", "identifier": "SRV-001"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["type"] == "server"
    differing = await client.post(
        "/api/resources",
        json={"type": "domain", "resource_type": "server", "identifier": "SRV-002"},
        headers=admin,
    )
    assert (differing.status_code, differing.json()["field"]) == (422, "resource_type")
    unknown = await client.post(
        "/api/resources",
        json={"type": "server", "identifier": "SRV-003", "owner": "x"},
        headers=admin,
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "owner")


async def test_allocate_both_forms_and_availability(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    lic = await create_license(runtime)
    servers = await _pool(client, admin, "server", 3)
    domains = await _pool(client, admin, "domain", 3)
    duplicate = await client.post(
        "/api/resources", json={"type": "server", "identifier": "SERVER-000"}, headers=admin
    )
    assert duplicate.status_code == 409
    plain = await client.post(
        "/api/resources/allocate",
        json={"license_id": lic.id, "resource_ids": servers[:2]},
        headers=admin,
    )
    assert plain.json() == {
        "success": True,
        "allocated": 2,
        "message": "2 resources allocated successfully",
    }
    typed = await client.post(
        "/api/resources/allocate",
        json={"license_id": lic.id, "resource_type": "domain", "resource_ids": domains},
        headers=admin,
    )
    assert typed.json()["allocated"] == 3
    wrong_type = await client.post(
        "/api/resources/allocate",
        json={"license_id": lic.id, "resource_type": "domain", "resource_ids": [servers[2]]},
        headers=admin,
    )
    assert wrong_type.status_code == 422
    taken = await client.post(
        "/api/resources/allocate",
        json={"license_id": lic.id, "resource_ids": [servers[1], servers[2]]},
        headers=admin,
    )
    assert taken.status_code == 409
    # All or nothing: the free one was not allocated either.
    free = await client.get("/api/resources/check-availability?type=server&count=1", headers=admin)
    assert free.json()["available"] is True
    assert free.json()["count"] == 1
    assert free.json()["resources"][0]["identifier"] == "SERVER-002"
    short = await client.get("/api/resources/check-availability?type=server&count=2", headers=admin)
    assert short.json()["available"] is False
    mine = (await client.get(f"/api/license/{lic.id}/resources", headers=admin)).json()
    assert len(mine["resources"]) == 5
    assert mine["resources"][0]["status"] == "allocated"
    assert mine["resources"][0]["type"] == "server"
    assert mine["resources"][0]["allocated_at"].endswith("Z")
    in_use = await client.delete(f"/api/resources/{servers[0]}", headers=admin)
    assert in_use.status_code == 409
    released = await client.post(
        "/api/resources/release",
        json={"license_id": lic.id, "resource_ids": [servers[0]]},
        headers=admin,
    )
    assert released.json()["released"] == 1
    await client.post("/api/licenses/bulk-delete", json={"license_ids": [lic.id]}, headers=admin)
    pool = (await client.get("/api/resources?status=available", headers=admin)).json()
    assert pool["total"] == 6


async def test_concurrent_allocations_never_share_a_resource(
    client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    servers = await _pool(client, admin, "server", 2)
    licenses = [await create_license(runtime) for _ in range(10)]
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post(
                    "/api/resources/allocate",
                    json={"license_id": lic.id, "resource_ids": servers},
                    headers=admin,
                )
                for lic in licenses
            )
        ),
        timeout=60,
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
    owners = {
        r["license_id"] for r in (await client.get("/api/resources", headers=admin)).json()["items"]
    }
    assert len(owners) == 1
