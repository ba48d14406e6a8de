"""Server factories: providers pointing at the test sandboxes, created through the API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.provider.compute.conftest import TOKEN, Sandbox

DO_BODY: dict[str, Any] = {
    "provider_type": "digitalocean",
    "label": "my-web-server",
    "type": "s-1vcpu-1gb",
    "region": "nyc3",
    "image": "ubuntu-22-04-x64",
    "rootPassword": "secure-password-here",
    "sshKeys": ["12345", "67890"],
    "backups": False,
    "monitoring": True,
    "ipv6": True,
    "vpc_uuid": None,
    "appSlug": "wordpress",
    "tags": ["production", "web"],
}
LINODE_BODY: dict[str, Any] = {
    "provider_type": "linode",
    "label": "my-web-server",
    "type": "g6-nanode-1",
    "region": "us-east",
    "image": "linode/ubuntu22.04",
    "rootPassword": "secure-password-here",
    "sshKeys": ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3example admin@example.com"],
    "backups": False,
    "privateIP": False,
    "stackscriptId": 12345,
    "stackscriptData": {"hostname": "myserver"},
    "tags": ["production", "web"],
}
HETZNER_BODY: dict[str, Any] = {
    "provider_type": "hetzner",
    "name": "my-web-server",
    "server_type": "cx23",
    "location": "fsn1",
    "image": "ubuntu-24.04",
    "sshKeys": [],
    "tags": ["production"],
}
BODIES = {"digitalocean": DO_BODY, "linode": LINODE_BODY, "hetzner": HETZNER_BODY}
NAMES = {"digitalocean": "DigitalOcean Production", "linode": "Linode", "hetzner": "Hetzner"}


async def create_provider(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    sandbox: Sandbox,
    *,
    api_key: str = TOKEN,
    configuration: dict[str, Any] | None = None,
    plans: bool = True,
) -> dict[str, Any]:
    """A provider at the sandbox; with `plans`, the size the documented body orders is offered
    as an active plan at the provider's price (customers order plans only)."""
    name = sandbox.case.name
    response = await client.post(
        "/api/admin/providers",
        headers=admin,
        json={
            "name": NAMES[name],
            "type": name,
            "api_key": api_key,
            "configuration": {"api_url": sandbox.url, **(configuration or {})},
        },
    )
    assert response.status_code == 201, response.text
    provider: dict[str, Any] = response.json()["provider"]
    if plans and sandbox.case.name in BODIES:
        await offer_plan(client, admin, provider, _body_size(BODIES[sandbox.case.name]))
    return provider


SIZES_PATH = {
    "digitalocean": ("sizes", "sizes"),
    "linode": ("types", "types"),
    "hetzner": ("server-types", "server_types"),
}


def _body_size(body: dict[str, Any]) -> str:
    return str(body.get("type") or body.get("server_type"))


async def offer_plan(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    provider: dict[str, Any],
    size: str,
    *,
    markup: float = 0.0,
) -> dict[str, Any]:
    """An active plan for `size`, at the provider's monthly price plus `markup`."""
    path, key = SIZES_PATH[provider["type"]]
    listing = await client.get(
        f"/api/vps/{provider['type']}/{path}",
        headers=admin,
        params={"provider_id": provider["id"]},
    )
    assert listing.status_code == 200, listing.text
    offered = next(s for s in listing.json()[key] if s["id"] == size)
    response = await client.post(
        "/api/admin/plans",
        headers=admin,
        json={
            "provider_id": provider["id"],
            "provider_plan_id": size,
            "base_price": offered["price"]["monthly"],
            "markup_price": markup,
        },
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()["plan"]
    return plan


def body_for(provider: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**BODIES[provider["type"]], "provider_id": provider["id"], **changes}
    return {k: v for k, v in body.items() if v is not ...}


async def wait_for_operation(
    client: httpx.AsyncClient, headers: dict[str, str], operation_id: str, *, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = (
            await client.get(f"/api/operations/{operation_id}", headers=headers)
        ).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation {operation_id} did not finish")


async def create_running(
    client: httpx.AsyncClient, headers: dict[str, str], provider: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    response = await client.post("/api/vps", headers=headers, json=body_for(provider, **changes))
    assert response.status_code == 201, response.text
    instance: dict[str, Any] = response.json()["instance"]
    operation = await wait_for_operation(client, headers, instance["operation_id"])
    assert operation["status"] == "completed", operation
    detail: dict[str, Any] = (
        await client.get(f"/api/vps/{instance['id']}", headers=headers)
    ).json()["instance"]
    return detail
