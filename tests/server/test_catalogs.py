"""Catalog endpoints for all three providers, in the documented shapes, with filters."""

from __future__ import annotations

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_staff, create_user, jwt_for
from tests.provider.compute.conftest import Sandbox
from tests.server.factories import create_provider


async def _setup(
    client: httpx.AsyncClient, runtime: Runtime, sandbox: Sandbox
) -> tuple[dict[str, str], str]:
    provider = await create_provider(client, await admin_headers(runtime), sandbox)
    # Provider prices and sizes without a plan are for staff (customers see the plans).
    return bearer(jwt_for(runtime, await create_staff(runtime))), provider["id"]


async def test_digitalocean_catalogs_as_documented(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    user, provider_id = await _setup(client, runtime, sandboxes["digitalocean"])
    apps = (await client.get("/api/vps/digitalocean/marketplace", headers=user)).json()["apps"]
    wordpress = next(a for a in apps if a["slug"] == "wordpress")
    assert wordpress == {
        "slug": "wordpress",
        "name": "WordPress",
        "description": "WordPress is a popular content management system",
        "category": "CMS",
        "image_slug": "wordpress-20-04",
        "compatible_images": wordpress["compatible_images"],
    }
    assert {"ubuntu-20-04-x64", "ubuntu-22-04-x64"} <= set(wordpress["compatible_images"])

    images = (
        await client.get(
            "/api/vps/digitalocean/images",
            headers=user,
            params={"provider_id": provider_id, "type": "distribution"},
        )
    ).json()["images"]
    ubuntu = next(i for i in images if i["slug"] == "ubuntu-22-04-x64")
    assert ubuntu["id"] == "123456"
    assert ubuntu["label"] == "Ubuntu 22.04 x64"
    assert ubuntu["description"] == "Ubuntu 22.04 LTS"
    assert ubuntu["distribution"] == "Ubuntu"
    assert ubuntu["public"] is True
    assert ubuntu["minDiskSize"] == 15
    assert all(i["type"] == "distribution" for i in images)
    apps_only = (
        await client.get(
            "/api/vps/digitalocean/images", headers=user, params={"type": "application"}
        )
    ).json()["images"]
    assert {i["slug"] for i in apps_only} >= {"wordpress-20-04", "docker-20-04"}
    bad = await client.get("/api/vps/digitalocean/images", headers=user, params={"type": "iso"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "type"

    sizes = (await client.get("/api/vps/digitalocean/sizes", headers=user)).json()["sizes"]
    small = next(s for s in sizes if s["id"] == "s-1vcpu-1gb")
    assert small["label"] == "Basic - 1GB"
    assert (small["vcpus"], small["memory"], small["disk"], small["transfer"]) == (
        1,
        1024,
        25,
        1000,
    )
    assert small["price"] == {"hourly": 0.00893, "monthly": 6.0}
    assert {"nyc1", "nyc3", "sfo3", "ams3"} <= set(small["regions"])

    regions = (await client.get("/api/vps/digitalocean/regions", headers=user)).json()["regions"]
    nyc3 = next(r for r in regions if r["id"] == "nyc3")
    assert nyc3 == {
        "id": "nyc3",
        "label": "New York 3",
        "available": True,
        "capabilities": ["droplets", "load_balancers", "volumes"],
    }


async def test_linode_catalogs(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    user, provider_id = await _setup(client, runtime, sandboxes["linode"])
    params = {"provider_id": provider_id}
    scripts = (await client.get("/api/vps/linode/stackscripts", headers=user, params=params)).json()
    assert scripts["stackscripts"][0]["id"] == 12345
    assert scripts["stackscripts"][0]["user_defined_fields"][0]["name"] == "hostname"
    types = (await client.get("/api/vps/linode/types", headers=user, params=params)).json()["types"]
    assert "g6-nanode-1" in {t["id"] for t in types}
    images = (await client.get("/api/vps/linode/images", headers=user, params=params)).json()
    assert "linode/ubuntu22.04" in {i["id"] for i in images["images"]}
    regions = (await client.get("/api/vps/linode/regions", headers=user, params=params)).json()
    assert "us-east" in {r["id"] for r in regions["regions"]}


async def test_hetzner_catalogs(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    user, _ = await _setup(client, runtime, sandboxes["hetzner"])
    types = (await client.get("/api/vps/hetzner/server-types", headers=user)).json()
    cx23 = next(t for t in types["server_types"] if t["id"] == "cx23")
    assert (cx23["vcpus"], cx23["memory"], cx23["disk"]) == (2, 4096, 40)
    images = (await client.get("/api/vps/hetzner/images", headers=user)).json()["images"]
    assert "ubuntu-24.04" in {i["slug"] for i in images}
    locations = (await client.get("/api/vps/hetzner/locations", headers=user)).json()
    assert "fsn1" in {loc["id"] for loc in locations["locations"]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/vps/digitalocean/sizes",
        "/api/vps/linode/types",
        "/api/vps/hetzner/server-types",
    ],
)
async def test_without_a_provider(client: httpx.AsyncClient, runtime: Runtime, path: str) -> None:
    user = bearer(jwt_for(runtime, await create_user(runtime)))
    response = await client.get(path, headers=user)
    assert response.status_code == 400
    assert response.json()["code"] == "MISSING_CREDENTIALS"
    unknown = await client.get(
        path, headers=user, params={"provider_id": "00000000-0000-0000-0000-000000000001"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "PROVIDER_NOT_FOUND"
    assert (await client.get(path)).status_code == 401


async def test_every_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for path in (
        "/api/admin/providers",
        "/api/admin/providers/{provider_id}",
        "/api/admin/plans",
        "/api/vps",
        "/api/vps/{instance_id}",
        "/api/vps/{instance_id}/action",
        "/api/vps/digitalocean/marketplace",
        "/api/vps/digitalocean/sizes",
        "/api/vps/linode/stackscripts",
        "/api/vps/linode/types",
        "/api/vps/hetzner/server-types",
        "/api/vps/hetzner/locations",
    ):
        assert path in paths, path
