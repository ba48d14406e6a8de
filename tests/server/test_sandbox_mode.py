"""Sandbox mode: a new provider without `configuration.api_url` points at its sandbox."""

from __future__ import annotations

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.provider.compute.conftest import TOKEN, Sandbox


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
