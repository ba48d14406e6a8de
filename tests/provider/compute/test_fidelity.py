"""The official SDKs against the sandboxes, and sandbox responses against the providers' specs.

hcloud, linode_api4 and pydo each create a server and wait for it the way their documentation
shows; then the raw responses the sandboxes gave are checked against ../shared/specs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import hcloud
import httpx
import linode_api4
import pydo
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import HeadersPolicy
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from tests.provider.compute import spec
from tests.provider.compute.conftest import TOKEN, Sandbox


@pytest.fixture
async def hetzner(compute_sandboxes: dict[str, Sandbox]) -> Sandbox:
    await compute_sandboxes["hetzner"].reset()
    return compute_sandboxes["hetzner"]


@pytest.fixture
async def linode(compute_sandboxes: dict[str, Sandbox]) -> Sandbox:
    await compute_sandboxes["linode"].reset()
    return compute_sandboxes["linode"]


@pytest.fixture
async def digitalocean(compute_sandboxes: dict[str, Sandbox]) -> Sandbox:
    await compute_sandboxes["digitalocean"].reset()
    return compute_sandboxes["digitalocean"]


async def test_hcloud_creates_a_server_and_waits_for_its_action(hetzner: Sandbox) -> None:
    def run() -> tuple[str, str | None]:
        client = hcloud.Client(TOKEN, api_endpoint=hetzner.url, poll_interval=0.05)
        response = client.servers.create(
            "fidelity-1",
            server_type=ServerType(name="cx23"),
            image=Image(name="ubuntu-24.04"),
            location=Location(name="nbg1"),
        )
        assert response.action is not None
        response.action.wait_until_finished(max_retries=200)
        assert response.root_password
        for next_action in response.next_actions:
            next_action.wait_until_finished(max_retries=200)
        server = client.servers.get_by_id(response.server.id)
        assert server.public_net is not None
        assert server.public_net.ipv4 is not None
        action = server.reboot()
        action.wait_until_finished(max_retries=200)
        assert client.actions.get_by_id(action.id).status == "success"
        return str(server.status), server.public_net.ipv4.ip

    status, ip = await asyncio.to_thread(run)
    assert status == "running"
    assert ip


async def test_hcloud_sees_the_documented_errors(hetzner: Sandbox) -> None:
    def run() -> tuple[str, str]:
        client = hcloud.Client("wrong-token", api_endpoint=hetzner.url)
        try:
            client.servers.get_all()
        except hcloud.APIException as error:
            unauthorized = str(error.code)
        client = hcloud.Client(TOKEN, api_endpoint=hetzner.url)
        try:
            client.servers.get_by_id(999999)
        except hcloud.APIException as error:
            return unauthorized, str(error.code)
        raise AssertionError("no error")

    assert await asyncio.to_thread(run) == ("unauthorized", "not_found")


async def test_linode_api4_creates_an_instance_and_waits_for_it(linode: Sandbox) -> None:
    def run() -> tuple[str, list[str]]:
        client = linode_api4.LinodeClient(TOKEN, base_url=linode.url, retry=False)
        poller = client.polling.event_poller_create("linode", "linode_create")
        instance = client.linode.instance_create(
            "g6-nanode-1",
            "us-east",
            image="linode/ubuntu22.04",
            root_pass="aComplex@Password123",
            label="fidelity-1",
            stackscript=12345,
            stackscript_data={"hostname": "myserver"},
        )
        assert instance.status == "provisioning"
        poller.set_entity_id(instance.id)
        poller.wait_for_next_event_finished(timeout=20, interval=0.05)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            instance.invalidate()
            if instance.status == "running":
                break
            time.sleep(0.05)
        instance.reboot()
        return str(instance.status), list(instance.ipv4)

    status, ipv4 = await asyncio.to_thread(run)
    assert status == "running"
    assert ipv4


async def test_linode_api4_sees_the_documented_errors(linode: Sandbox) -> None:
    def run() -> tuple[int, int, list[str]]:
        try:
            linode_api4.LinodeClient("wrong", base_url=linode.url, retry=False).profile()
        except linode_api4.ApiError as error:
            unauthorized = int(error.status)
        client = linode_api4.LinodeClient(TOKEN, base_url=linode.url, retry=False)
        try:
            client.linode.instance_create(
                "g6-nope", "us-east", image="linode/ubuntu22.04", root_pass="aComplex@Password1"
            )
        except linode_api4.ApiError as error:
            return unauthorized, int(error.status), list(error.errors)
        raise AssertionError("no error")

    unauthorized, status, errors = await asyncio.to_thread(run)
    assert (unauthorized, status) == (401, 400)
    assert errors == ["A valid plan type by that ID was not found"]


def _pydo(sandbox: Sandbox, token: str = TOKEN) -> pydo.Client:
    return pydo.Client(
        token,
        endpoint=sandbox.url,
        authentication_policy=HeadersPolicy({"Authorization": f"Bearer {token}"}),
        retry_total=0,
    )


async def test_pydo_creates_a_droplet_and_waits_for_its_action(digitalocean: Sandbox) -> None:
    def run() -> dict[str, Any]:
        client = _pydo(digitalocean)
        created = client.droplets.create(
            {
                "name": "fidelity-1",
                "region": "nyc3",
                "size": "s-1vcpu-1gb",
                "image": "ubuntu-22-04-x64",
                "ssh_keys": [12345, 67890],
                "ipv6": True,
                "monitoring": True,
                "tags": ["production", "web"],
            }
        )
        action_id = created["links"]["actions"][0]["id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if client.actions.get(action_id)["action"]["status"] == "completed":
                break
            time.sleep(0.05)
        droplet_id = created["droplet"]["id"]
        cycled = client.droplet_actions.post(droplet_id, {"type": "power_cycle"})
        assert cycled["action"]["type"] == "power_cycle"
        droplet: dict[str, Any] = client.droplets.get(droplet_id)["droplet"]
        return droplet

    droplet = await asyncio.to_thread(run)
    assert droplet["status"] == "active"
    assert droplet["networks"]["v4"][0]["type"] == "public"
    assert droplet["networks"]["v6"]


async def test_pydo_gets_documented_error_bodies(digitalocean: Sandbox) -> None:
    def run() -> tuple[dict[str, Any], Any]:
        missing = _pydo(digitalocean).droplets.get(987654)
        with pytest.raises(ClientAuthenticationError) as caught:
            _pydo(digitalocean, "wrong").account.get()
        response = caught.value.response
        return missing, response.json() if response is not None else None

    missing, unauthorized = await asyncio.to_thread(run)
    # pydo returns a documented 404 body instead of raising (see docs/providers.md).
    assert missing["id"] == "not_found"
    assert unauthorized == {
        "id": "unauthorized",
        "message": "Unable to authenticate you.",
        "request_id": unauthorized["request_id"],
    }


# --- responses against the specs ------------------------------------------------------------


async def _call(sandbox: Sandbox, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=f"{sandbox.root}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as http:
        return await http.request(method, path, json=body)


async def test_hetzner_responses_match_the_spec(hetzner: Sandbox) -> None:
    name = "hetzner.json"
    created = await _call(
        hetzner,
        "POST",
        "/v1/servers",
        {"name": "spec-1", "server_type": "cx23", "image": "ubuntu-24.04", "location": "fsn1"},
    )
    assert created.status_code == 201
    spec.validate(name, spec.response_schema(name, "/servers", "post", "201"), created.json())
    server_id = created.json()["server"]["id"]
    action_id = created.json()["action"]["id"]
    # A server still initializing is locked (423); power actions need it running.
    for _ in range(100):
        shown = await _call(hetzner, "GET", f"/v1/servers/{server_id}")
        if shown.json()["server"]["status"] == "running":
            break
        await asyncio.sleep(0.05)
    checks = [
        ("GET", f"/v1/servers/{server_id}", "/servers/{id}", "get", "200"),
        ("GET", "/v1/servers", "/servers", "get", "200"),
        ("GET", "/v1/server_types", "/server_types", "get", "200"),
        ("GET", "/v1/locations", "/locations", "get", "200"),
        ("GET", "/v1/images", "/images", "get", "200"),
        ("GET", f"/v1/actions/{action_id}", "/actions/{id}", "get", "200"),
        (
            "POST",
            f"/v1/servers/{server_id}/actions/poweroff",
            "/servers/{id}/actions/poweroff",
            "post",
            "201",
        ),
    ]
    for method, path, documented, verb, status in checks:
        response = await _call(hetzner, method, path)
        assert response.status_code == int(status), path
        spec.validate(name, spec.response_schema(name, documented, verb, status), response.json())
    missing = await _call(hetzner, "GET", "/v1/servers/999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "RateLimit-Remaining" in missing.headers


async def test_digitalocean_responses_match_the_spec(digitalocean: Sandbox) -> None:
    name = "digitalocean.yaml"
    created = await _call(
        digitalocean,
        "POST",
        "/v2/droplets",
        {
            "name": "spec-1",
            "region": "nyc3",
            "size": "s-1vcpu-1gb",
            "image": "ubuntu-22-04-x64",
            "ssh_keys": [12345],
            "ipv6": True,
        },
    )
    assert created.status_code == 202
    spec.validate(name, spec.response_schema(name, "/v2/droplets", "post", "202"), created.json())
    droplet_id = created.json()["droplet"]["id"]
    await asyncio.sleep(0.5)
    action = await _call(
        digitalocean, "POST", f"/v2/droplets/{droplet_id}/actions", {"type": "reboot"}
    )
    assert action.status_code == 201
    spec.validate(
        name,
        spec.response_schema(name, "/v2/droplets/{droplet_id}/actions", "post", "201"),
        action.json(),
    )
    checks = [
        (f"/v2/droplets/{droplet_id}", "/v2/droplets/{droplet_id}"),
        ("/v2/droplets", "/v2/droplets"),
        ("/v2/sizes", "/v2/sizes"),
        ("/v2/regions", "/v2/regions"),
        ("/v2/images?type=distribution", "/v2/images"),
        ("/v2/1-clicks?type=droplet", "/v2/1-clicks"),
        ("/v2/account", "/v2/account"),
        ("/v2/account/keys", "/v2/account/keys"),
        (f"/v2/actions/{action.json()['action']['id']}", "/v2/actions/{action_id}"),
    ]
    for path, documented in checks:
        response = await _call(digitalocean, "GET", path)
        assert response.status_code == 200, path
        spec.validate(name, spec.response_schema(name, documented, "get", "200"), response.json())
        assert "ratelimit-remaining" in response.headers
    missing = await _call(digitalocean, "GET", "/v2/droplets/987654")
    spec.validate(
        name, spec.response_schema(name, "/v2/droplets/{droplet_id}", "get", "404"), missing.json()
    )
    paged = (await _call(digitalocean, "GET", "/v2/sizes?per_page=2")).json()
    assert len(paged["sizes"]) == 2
    assert "page=2" in paged["links"]["pages"]["next"]
    assert paged["meta"]["total"] == 5
