"""Names and tags each provider refuses are refused before a server is asked for, in words
naming the provider's rule (Hetzner and DigitalOcean names are host names: no '_')."""

from __future__ import annotations

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.provider.compute.conftest import Sandbox
from tests.server.factories import body_for, create_provider


@pytest.mark.parametrize(
    ("name", "label"),
    [("hetzner", "web_1"), ("digitalocean", "web_1"), ("linode", "web__1")],
)
async def test_a_name_the_provider_refuses_is_a_validation_error(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    name: str,
    label: str,
) -> None:
    admin = await admin_headers(runtime)
    provider = await create_provider(client, admin, sandboxes[name])
    body = body_for(provider, label=label, name=label)
    response = await client.post("/api/vps", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "label"
    assert response.json()["code"] == "VALIDATION_ERROR"
    posts = [r for r in await sandboxes[name].requests() if r["method"] == "POST"]
    assert posts == []


async def test_a_tag_longer_than_linode_allows_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    provider = await create_provider(client, admin, sandboxes["linode"])
    body = body_for(provider, tags=["t" * 60])
    response = await client.post("/api/vps", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "tags"
    assert "50" in response.json()["error"]
