"""Stellwerk in real mode (`STELLWERK_SANDBOX=false`) with every base URL pointed at a strict
server on 127.0.0.1 that speaks the provider's protocol: the sandboxes, run standalone on
loopback as `stellwerk sandbox` runs them, configured the way an operator configures the real
providers (INWX_API_URL with a 2FA login, COOLIFY_API_URL without `/api/v1`, HETZNER_DNS_API_URL,
`configuration.api_url` for the compute providers).

A project provisions end to end (domain bought, a Hetzner server through Coolify, DNS at
Hetzner, application deployed and healthy); servers are created at all three compute providers
and deleted again; a failed deployment rolls back, a retry succeeds, and archiving leaves no
application, Coolify project, DNS record or server behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from stellwerk.operation import engine
from stellwerk.provider import connect, registry
from stellwerk.provider.compute.digitalocean.sandbox import create_app as digitalocean_app
from stellwerk.provider.compute.hetzner.sandbox import create_app as hetzner_app
from stellwerk.provider.compute.linode.sandbox import create_app as linode_app
from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.registrar.inwx.sandbox import SANDBOX_2FA_SECRET
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.project.factories import wait_for_project
from tests.server.factories import BODIES, wait_for_operation

TOKEN = "sandbox-operator"  # what the sandboxes accept; Stellwerk sees an ordinary token
SERVER_PATHS = {
    "hetzner": "/servers",
    "linode": "/linode/instances",
    "digitalocean": "/v2/droplets",
}
LISTED = {"hetzner": "servers", "linode": "data", "digitalocean": "droplets"}


class Loopback:
    """The strict servers, and what they hold."""

    def __init__(self, running: dict[str, RunningSandbox]) -> None:
        self.running = running

    def url(self, name: str) -> str:
        return self.running[name].url

    def root(self, name: str) -> str:
        return f"http://127.0.0.1:{self.running[name].port}"

    def state(self, name: str) -> dict[str, Any]:
        return self.running[name].server.config.app.sandbox.state.data  # type: ignore[no-any-return]

    async def control(self, name: str, action: str, body: Any) -> None:
        async with httpx.AsyncClient() as http:
            await http.post(f"{self.root(name)}/__sandbox__/{action}", json=body)

    async def servers(self, name: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=self.url(name), headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            return list((await http.get(SERVER_PATHS[name])).json()[LISTED[name]])

    def records(self, zone: str) -> list[tuple[str, str]]:
        zones = self.state("hetzner")["zones"].values()
        found = next((z for z in zones if z["name"] == zone), None)
        if found is None:
            return []
        return sorted(
            (r["name"], r["type"]) for r in found["rrsets"].values() if r["type"] in ("A", "AAAA")
        )


@pytest_asyncio.fixture
async def loopback(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Loopback]:
    running = {
        "inwx": await start_server(inwx_app(None), name="inwx"),
        "coolify": await start_server(coolify_app(None), name="coolify", suffix="/api/v1"),
        "hetzner": await start_server(
            hetzner_app(None, provision_delay=0.3, action_delay=0.2), name="hetzner", suffix="/v1"
        ),
        "linode": await start_server(
            linode_app(None, provision_delay=0.3, action_delay=0.2), name="linode", suffix="/v4"
        ),
        "digitalocean": await start_server(
            digitalocean_app(None, provision_delay=0.3, action_delay=0.2), name="digitalocean"
        ),
    }
    servers = Loopback(running)
    await servers.control(
        "coolify",
        "deployments",
        {"queue_seconds": 0.2, "build_seconds": 0.4, "delete_seconds": 0.3},
    )
    seeds = registry.entry("coolify").sandbox.seeds  # type: ignore[union-attr]
    values: dict[str, Any] = {
        "sandbox": False,
        "inwx_username": "sandbox-operator-2fa",
        "inwx_password": SecretStr("sandbox-password"),
        "inwx_2fa_secret": SecretStr(SANDBOX_2FA_SECRET),
        "inwx_api_url": servers.url("inwx"),
        "coolify_api_url": servers.root("coolify"),  # without /api/v1: Stellwerk adds it
        "coolify_api_token": SecretStr(TOKEN),
        "coolify_hetzner_token_uuid": seeds["hetzner_token_uuid"],
        "coolify_private_key_uuid": seeds["private_key_uuid"],
        "coolify_default_server_uuid": None,
        "hetzner_api_token": SecretStr(TOKEN),
        "hetzner_dns_api_url": servers.url("hetzner"),
        "dns_default_provider": "hetzner",
        "project_health_url": f"{servers.root('coolify')}/__app__/{{domain}}/health",
        "project_poll_seconds": 0.2,
        "project_health_timeout_seconds": 5.0,
        "project_deploy_timeout_seconds": 60.0,
    }
    # The workflows read the engine's settings; a CLI test may have given it other ones.
    engine_settings = engine.current().settings
    targets = {id(runtime.settings): runtime.settings, id(engine_settings): engine_settings}
    for settings in targets.values():
        for name, value in values.items():
            monkeypatch.setattr(settings, name, value)
    assert connect.ENDPOINT_OVERRIDES == {}
    try:
        yield servers
    finally:
        for server in running.values():
            await server.stop()


async def _provision(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, domain: str
) -> dict[str, Any]:
    body = {
        "name": name,
        "domain": domain,
        "plugins": ["core"],
        "register_domain": True,
        "create_server": True,
    }
    response = await client.post("/api/projects", headers=admin, json=body)
    assert response.status_code == 202, response.text
    return await wait_for_project(client, admin, int(response.json()["id"]), timeout=90)


async def test_a_project_provisions_rolls_back_retries_and_archives_without_leftovers(
    client: httpx.AsyncClient, runtime: Runtime, loopback: Loopback
) -> None:
    admin = await admin_headers(runtime)
    contact = await client.post(
        "/api/registrar/contacts", headers=admin, json={"provider_contact_id": "12345"}
    )
    assert contact.status_code == 201, contact.text

    # End to end: domain, server through Coolify, DNS at Hetzner, deployment, health.
    project = await _provision(client, admin, "realmode", "realmode-shop.de")
    assert project["state"] == "active", (project["error"], project["operation"])
    assert "realmode-shop.de" in loopback.state("inwx")["domains"]
    coolify = loopback.state("coolify")
    server = coolify["servers"][project["server_uuid"]]
    assert server["_server_type"] == "cx23"
    assert loopback.records("realmode-shop.de") == [("@", "A"), ("www", "A")]

    # Rollback: the deployment fails; the application, Coolify project and records go again.
    await loopback.control("coolify", "deployments", {"fail": 1})
    failed = await _provision(client, admin, "rollback", "rollback-shop.de")
    assert failed["state"] == "error"
    assert failed["error"]["step"] == "deploy"
    assert {a["name"] for a in coolify["applications"].values()} == {"vrs-realmode"}
    assert {p["name"] for p in coolify["projects"].values()} == {"vrs-realmode"}
    assert loopback.records("rollback-shop.de") == []

    # Retry: from the failed step, to the end.
    retried = await client.post(f"/api/projects/{failed['id']}/retry", headers=admin)
    assert retried.status_code == 202, retried.text
    again = await wait_for_project(client, admin, int(failed["id"]), timeout=90)
    assert again["state"] == "active", (again["error"], again["operation"])
    assert loopback.records("rollback-shop.de") == [("@", "A"), ("www", "A")]

    # Archive both: nothing of theirs stays at Coolify or in DNS; the domains are kept.
    for done in (project, again):
        archived = await client.post(f"/api/projects/{done['id']}/archive", headers=admin)
        assert archived.status_code == 200, archived.text
    assert coolify["applications"] == {}
    assert coolify["projects"] == {}
    assert loopback.records("realmode-shop.de") == []
    assert loopback.records("rollback-shop.de") == []
    assert {"realmode-shop.de", "rollback-shop.de"} <= set(loopback.state("inwx")["domains"])


@pytest.mark.parametrize("name", ["hetzner", "linode", "digitalocean"])
async def test_a_server_is_created_and_deleted_at_each_compute_provider(
    client: httpx.AsyncClient, runtime: Runtime, loopback: Loopback, name: str
) -> None:
    admin = await admin_headers(runtime)
    created = await client.post(
        "/api/admin/providers",
        headers=admin,
        json={
            "name": f"{name} production",
            "type": name,
            "api_key": TOKEN,
            "configuration": {"api_url": loopback.url(name)},
        },
    )
    assert created.status_code == 201, created.text
    provider = created.json()["provider"]
    body = {**BODIES[name], "provider_id": provider["id"]}
    response = await client.post("/api/vps", headers=admin, json=body)
    assert response.status_code == 201, response.text
    instance = response.json()["instance"]
    operation = await wait_for_operation(client, admin, instance["operation_id"])
    assert operation["status"] == "completed", operation
    (server,) = await loopback.servers(name)
    detail = (await client.get(f"/api/vps/{instance['id']}", headers=admin)).json()["instance"]
    assert detail["provider_instance_id"] == str(server["id"])
    assert detail["status"] == "running"

    deleted = await client.post(
        f"/api/vps/{instance['id']}/action", headers=admin, json={"action": "delete"}
    )
    assert deleted.status_code == 200, deleted.text
    for _ in range(100):  # Hetzner deletes through an action
        if not await loopback.servers(name):
            break
        await asyncio.sleep(0.1)
    assert await loopback.servers(name) == []
