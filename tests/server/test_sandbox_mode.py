"""Sandbox mode: a new provider without `configuration.api_url` points at its sandbox, and a
fresh installation comes with a provider and plans per compute sandbox."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from stellwerk.models import ServiceProvider
from stellwerk.provider import connect
from stellwerk.runtime import Runtime
from stellwerk.server.compute import current_endpoint
from stellwerk.server.service import ensure_sandbox_providers
from tests.factories import admin_headers, bearer, create_user, jwt_for
from tests.provider.compute.conftest import TOKEN, Sandbox
from tests.server.factories import wait_for_operation


async def test_new_provider_points_at_its_sandbox(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.settings, "sandbox", True)
    monkeypatch.setattr(
        runtime, "sandboxes", {name: sandbox.url for name, sandbox in sandboxes.items()}
    )
    admin = await admin_headers(runtime)
    response = await client.post(
        "/api/admin/providers",
        headers=admin,
        json={"name": "Linode", "type": "linode", "api_key": TOKEN, "configuration": {}},
    )
    assert response.status_code == 201, response.text
    assert any(r["path"] == "/v4/profile" for r in await sandboxes["linode"].requests())
    provider_id = response.json()["provider"]["id"]
    types = await client.get(
        "/api/vps/linode/types", headers=admin, params={"provider_id": provider_id}
    )
    assert types.status_code == 200
    assert "g6-nanode-1" in {t["id"] for t in types.json()["types"]}


async def test_a_fresh_installation_in_sandbox_mode_can_order_at_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.settings, "sandbox", True)
    urls = {name: sandbox.url for name, sandbox in sandboxes.items()}
    async with runtime.database.session() as session:
        created = await ensure_sandbox_providers(session, runtime.settings, urls)
    assert sorted(p.type for p in created) == ["digitalocean", "hetzner", "linode"]
    async with runtime.database.session() as session:  # a restart: nothing twice
        assert await ensure_sandbox_providers(session, runtime.settings, urls) == []

    admin = await admin_headers(runtime)
    providers = (await client.get("/api/admin/providers", headers=admin)).json()["providers"]
    assert sorted(p["name"] for p in providers) == [
        "DigitalOcean sandbox",
        "Hetzner Cloud sandbox",
        "Linode (Akamai) sandbox",
    ]
    plans = (await client.get("/api/admin/plans", headers=admin)).json()["plans"]
    assert len(plans) == 9
    hetzner = next(p for p in providers if p["type"] == "hetzner")
    cx23 = next(
        p for p in plans if p["provider_id"] == hetzner["id"] and p["provider_plan_id"] == "cx23"
    )
    assert Decimal(str(cx23["markup_price"])) == (
        Decimal(str(cx23["base_price"])) * Decimal("0.25")
    ).quantize(Decimal("0.01"))

    owner = await create_user(runtime)
    user = bearer(jwt_for(runtime, owner))
    ordered = await client.post(
        "/api/vps",
        headers=user,
        json={"plan_id": cx23["id"], "name": "web-1", "location": "fsn1", "image": "ubuntu-24.04"},
    )
    assert ordered.status_code == 201, ordered.text
    operation = await wait_for_operation(client, user, ordered.json()["instance"]["operation_id"])
    assert operation["status"] == "completed", operation


async def test_a_sandbox_provider_follows_the_sandbox_to_its_new_port(
    runtime: Runtime, sandboxes: dict[str, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "sandbox", True)
    provider = ServiceProvider(
        name="Linode", type="linode", api_key_encrypted="", endpoint="http://127.0.0.1:1/v4"
    )
    provider.configuration = {}
    # Stored at the last start's port; this start's sandbox answers elsewhere.
    monkeypatch.setitem(connect.ENDPOINT_OVERRIDES, "linode", sandboxes["linode"].url)
    assert current_endpoint(provider, runtime.settings) == sandboxes["linode"].url
    provider.configuration = {"api_url": "http://127.0.0.1:1/v4"}  # given by the operator: kept
    assert current_endpoint(provider, runtime.settings) == "http://127.0.0.1:1/v4"
