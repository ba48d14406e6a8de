"""Providers (admin): CRUD exactly as documented, keys validated and encrypted, cache rules."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_user, jwt_for
from tests.provider.compute.conftest import TOKEN, Sandbox
from tests.server.factories import create_provider


async def test_crud_as_documented(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    response = await client.post(
        "/api/admin/providers",
        headers=admin,
        json={
            "name": "DigitalOcean Production",
            "type": "digitalocean",
            "api_key": TOKEN,
            "configuration": {"default_region": "nyc3", "api_url": sandboxes["digitalocean"].url},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    provider = body["provider"]
    assert {"id", "name", "type", "active"} <= set(provider)
    assert provider["name"] == "DigitalOcean Production"
    assert provider["type"] == "digitalocean"
    assert provider["active"] is True
    assert TOKEN not in response.text

    listed = (await client.get("/api/admin/providers", headers=admin)).json()
    assert [p["id"] for p in listed["providers"]] == [provider["id"]]
    entry = listed["providers"][0]
    assert set(entry) == {
        "id",
        "name",
        "type",
        "active",
        "configuration",
        "created_at",
        "updated_at",
    }
    assert entry["configuration"]["default_region"] == "nyc3"
    assert entry["created_at"].endswith("Z")

    updated = await client.put(
        f"/api/admin/providers/{provider['id']}",
        headers=admin,
        json={
            "name": "DigitalOcean Production",
            "api_key": "sandbox-new-api-token",
            "active": True,
            "configuration": {
                "default_region": "sfo3",
                "api_url": sandboxes["digitalocean"].url,
            },
        },
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["success"] is True
    assert updated.json()["provider"]["configuration"]["default_region"] == "sfo3"
    assert "sandbox-new-api-token" not in updated.text

    deleted = await client.delete(f"/api/admin/providers/{provider['id']}", headers=admin)
    assert deleted.json() == {"success": True, "message": "Provider deleted successfully"}
    assert (await client.get("/api/admin/providers", headers=admin)).json() == {"providers": []}
    missing = await client.delete(f"/api/admin/providers/{provider['id']}", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "PROVIDER_NOT_FOUND"
    assert missing.json()["success"] is False


@pytest.mark.parametrize("name", ["hetzner", "linode", "digitalocean"])
async def test_bad_api_key_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox], name: str
) -> None:
    admin = await admin_headers(runtime)
    response = await client.post(
        "/api/admin/providers",
        headers=admin,
        json={
            "name": name,
            "type": name,
            "api_key": "wrong-token",
            "configuration": {"api_url": sandboxes[name].url},
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "INVALID_CREDENTIALS"
    assert body["field"] == "api_key"
    assert "wrong-token" not in response.text
    assert (await client.get("/api/admin/providers", headers=admin)).json()["providers"] == []


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"name": "x", "type": "digitalocean"}, 400, "MISSING_CREDENTIALS", "api_key"),
        ({"name": "x", "type": "vultr", "api_key": TOKEN}, 422, "VALIDATION_ERROR", "type"),
        ({"name": "x", "type": "aws", "api_key": TOKEN}, 422, "VALIDATION_ERROR", "type"),
        ({"type": "linode", "api_key": TOKEN}, 422, "VALIDATION_ERROR", "name"),
        (
            {
                "name": "x",
                "type": "linode",
                "api_key": TOKEN,
                "configuration": {"api_url": "ftp://x"},
            },
            422,
            "VALIDATION_ERROR",
            "configuration.api_url",
        ),
    ],
)
async def test_invalid_bodies(
    client: httpx.AsyncClient,
    runtime: Runtime,
    payload: dict[str, object],
    status: int,
    code: str,
    field: str,
) -> None:
    response = await client.post(
        "/api/admin/providers", headers=await admin_headers(runtime), json=payload
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["code"], body["field"]) == (False, code, field)


async def test_admin_only(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = bearer(jwt_for(runtime, await create_user(runtime)))
    for method, path in (
        ("GET", "/api/admin/providers"),
        ("POST", "/api/admin/providers"),
        ("GET", "/api/admin/plans"),
    ):
        response = await client.request(method, path, headers=user, json={})
        assert response.status_code == 403
        assert response.json() == {
            "success": False,
            "error": "forbidden",
            "code": "missing_scope",
            "required": "admin",
            "field": None,
        }
    assert (await client.get("/api/admin/providers")).status_code == 401


async def test_api_key_is_encrypted_and_never_shown(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await admin_headers(runtime)
    secret = "sandbox-very-secret-key-0123456789"
    provider = await create_provider(client, admin, sandboxes["linode"], api_key=secret)
    await client.get("/api/vps/linode/types", headers=admin)
    assert any(r.name == "stellwerk.provider" for r in caplog.records)  # calls are logged
    assert all(
        secret not in r.getMessage() and secret not in str(r.__dict__) for r in caplog.records
    )
    for path in ("/api/admin/providers", f"/api/admin/providers/{provider['id']}"):
        assert secret not in (await client.get(path, headers=admin)).text
    async with runtime.database.engine.connect() as connection:
        stored = (
            await connection.execute(text("SELECT api_key_encrypted FROM service_providers"))
        ).scalar_one()
        audit_rows = (await connection.execute(text("SELECT detail FROM audit_events"))).all()
    assert secret not in stored
    assert stored.startswith("v1:")
    assert all(secret not in str(row) for row in audit_rows)


async def test_update_and_toggle_invalidate_the_catalog_cache(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    sandbox = sandboxes["digitalocean"]
    provider = await create_provider(client, admin, sandbox)
    query = {"provider_id": provider["id"]}

    async def sizes_requests() -> int:
        return len([r for r in await sandbox.requests() if r["path"] == "/v2/sizes"])

    first = await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert first.status_code == 200
    assert await sizes_requests() == 1
    second = await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert second.json() == first.json()
    assert await sizes_requests() == 1  # within the TTL: nobody was asked

    await client.put(
        f"/api/admin/providers/{provider['id']}", headers=admin, json={"name": "Renamed"}
    )
    await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert await sizes_requests() == 2

    await client.put(
        f"/api/admin/providers/{provider['id']}", headers=admin, json={"active": False}
    )
    inactive = await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert inactive.status_code == 409
    assert inactive.json()["code"] == "PROVIDER_INACTIVE"
    await client.put(f"/api/admin/providers/{provider['id']}", headers=admin, json={"active": True})
    await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert await sizes_requests() == 3

    cleared = await client.delete(f"/api/admin/providers/{provider['id']}/cache", headers=admin)
    assert cleared.json()["success"] is True
    await client.get("/api/vps/digitalocean/sizes", headers=admin, params=query)
    assert await sizes_requests() == 4
