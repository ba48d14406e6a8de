"""The server pages through the ASGI client: the form's access fields, and actions that follow
the server's state."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
import pytest_asyncio

from stellwerk.models import User, VpsInstance
from stellwerk.runtime import Runtime
from stellwerk.web.server import actions_for
from tests.factories import bearer, create_admin, create_user, jwt_for
from tests.provider.compute.conftest import Sandbox, compute_sandboxes
from tests.server.factories import create_provider
from tests.web.test_router import log_in

__all__ = ["compute_sandboxes"]

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3Y2ZbmJ0d2Vya3Rlc3RrZXl0ZXN0a2V5dGVzdA me@laptop"
)


@pytest_asyncio.fixture
async def sandboxes(compute_sandboxes: dict[str, Sandbox]) -> dict[str, Sandbox]:
    for sandbox in compute_sandboxes.values():
        await sandbox.reset()
    return compute_sandboxes


def _server(
    owner: User, status: str, provider_type: str = "hetzner", **values: object
) -> VpsInstance:
    return VpsInstance(
        user_id=owner.id,
        label=f"s-{uuid.uuid4().hex[:8]}",
        status=status,
        provider_type=provider_type,
        plan_specs={},
        options={},
        **values,
    )


def _actions(page: str) -> list[str]:
    return re.findall(
        r'name="action" value="[a-z_]+">\s*<button type="submit" class="[^"]*">([^<]+)<', page
    )


@pytest.mark.parametrize(
    ("status", "provider_type", "expected"),
    [
        ("running", "hetzner", ["shutdown", "reboot", "power_off", "delete"]),
        ("running", "digitalocean", ["shutdown", "reboot", "power_off", "power_cycle", "delete"]),
        ("off", "linode", ["boot", "delete"]),
        ("starting", "hetzner", ["delete"]),
        ("unknown", "hetzner", ["boot", "shutdown", "reboot", "power_off", "delete"]),
        ("failed", "hetzner", ["delete"]),
        ("deleted", "hetzner", []),
    ],
)
def test_actions_follow_the_state(status: str, provider_type: str, expected: list[str]) -> None:
    instance = VpsInstance(status=status, provider_type=provider_type, provider_instance_id="42")
    assert actions_for(instance) == expected


def test_a_server_not_yet_at_the_provider_has_no_actions() -> None:
    assert actions_for(VpsInstance(status="provisioning", provider_type="hetzner")) == []
    assert actions_for(VpsInstance(status="failed", provider_type="hetzner")) == []


async def test_the_page_offers_what_the_state_allows(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    owner = await create_user(runtime)
    async with runtime.database.session() as session:
        running = _server(owner, "running", provider_instance_id="1")
        off = _server(owner, "off", provider_instance_id="2")
        session.add_all([running, off])
        await session.flush()
        ids = running.id, off.id
    await log_in(client, owner.username)
    page = (await client.get(f"/ui/servers/{ids[0]}")).text
    assert _actions(page) == ["Shut down", "Reboot", "Power off", "Delete"]
    assert 'data-confirm="Delete ' in page
    assert 'data-confirm="Power off ' in page
    page = (await client.get(f"/ui/servers/{ids[1]}")).text
    assert _actions(page) == ["Boot", "Delete"]
    assert 'data-confirm="Boot' not in page


async def test_the_form_sends_keys_password_and_user_data(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await create_admin(runtime)
    provider = await create_provider(client, bearer(jwt_for(runtime, admin)), sandboxes["hetzner"])
    csrf = await log_in(client, admin.username)
    form = {
        "csrf_token": csrf,
        "provider_id": provider["id"],
        "label": "form-web-1",
        "region": "fsn1",
        "type": "cx23",
        "image": "ubuntu-24.04",
        "sshKeys": f"{PUBLIC_KEY}\n\n  my-stored-key  \n",
        "user_data": "#cloud-config\npackages: [nginx]",
    }
    # A password the provider would refuse: next to its field, and never sent back.
    refused = await client.post("/ui/servers", data={**form, "rootPassword": "short77"})
    assert refused.status_code == 422
    assert 'id="rootPassword-error"' in refused.text
    assert "short77" not in refused.text
    assert "packages: [nginx]" in refused.text  # the rest is kept

    created = await client.post(
        "/ui/servers", data={**form, "rootPassword": " a password with spaces "}
    )
    assert created.status_code == 303, created.text
    instance_id = uuid.UUID(created.headers["location"].rsplit("/", 1)[1])
    async with runtime.database.session() as session:
        instance = await session.get(VpsInstance, instance_id)
        assert instance is not None
        assert instance.options["sshKeys"] == [PUBLIC_KEY, "my-stored-key"]
        assert instance.options["user_data"] == "#cloud-config\npackages: [nginx]"
        assert instance.root_password_encrypted
        assert "spaces" not in instance.root_password_encrypted


async def test_too_many_keys_or_too_much_user_data(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await create_admin(runtime)
    provider = await create_provider(client, bearer(jwt_for(runtime, admin)), sandboxes["linode"])
    csrf = await log_in(client, admin.username)
    base = {"csrf_token": csrf, "provider_id": provider["id"], "label": "x-1"}
    many = await client.post("/ui/servers", data={**base, "sshKeys": "\n".join(["k"] * 51)})
    assert many.status_code == 422
    assert 'id="sshKeys-error"' in many.text
    large = await client.post("/ui/servers", data={**base, "user_data": "x" * 65537})
    assert large.status_code == 422
    assert 'id="user_data-error"' in large.text
