"""Projects end to end against the INWX and Coolify sandboxes (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import dns.resolver
import httpx
import pytest

from stellwerk.project.workflow import hash_key
from stellwerk.provider.compute.hetzner import catalog as hetzner
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_token, create_user
from tests.project.factories import wait_for_project
from tests.provider.dns.pdns_server import PowerDns, resolve
from tests.provider.running import Sandboxes

EXPECTED_ENV = {
    "VRS_PROJECT_ID",
    "VRS_MARKETPLACE_URL",
    "VRS_MARKETPLACE_KEY",
    "VRS_PLUGINS",
    "SECRET_KEY",
}


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, object]:
    response = await client.post("/api/projects", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_ends_active(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await _create(
        client,
        headers,
        name="demo",
        domain="demo-shop.de",
        plugins=["core", "crm"],
        register_domain=True,
    )
    assert created["state"] == "provisioning"
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "active", (project["error"], project["operation"])
    assert project["live_url"] == "https://demo-shop.de"
    assert project["operation"]["status"] == "completed"
    assert project["operation"]["progress"] == 100

    state = sandboxes.coolify_state
    assert len(state["projects"]) == 1
    (coolify_project,) = state["projects"].values()
    assert coolify_project["uuid"] == project["coolify_project_uuid"]
    assert coolify_project["name"] == "vrs-demo"
    (app,) = state["applications"].values()
    assert app["uuid"] == project["coolify_app_uuid"]
    assert app["fqdn"] == "https://demo-shop.de,https://www.demo-shop.de"
    assert app["git_repository"] == runtime.settings.vrs_core_repo
    assert app["build_pack"] == "nixpacks"
    assert app["ports_exposes"] == "8000"
    assert app["health_check_path"] == "/health"
    assert app["health_check_interval"] == 30
    assert app["settings"] == {"is_force_https_enabled": True, "is_auto_deploy_enabled": False}
    assert app["status"] == "running:healthy"
    envs = {e["key"]: e["value"] for e in state["envs"][app["uuid"]]}
    assert set(envs) == EXPECTED_ENV
    assert envs["VRS_PROJECT_ID"] == str(project["id"])
    assert envs["VRS_PLUGINS"] == "core,crm"
    # The key is stored only as a hash, and never shown.
    assert envs["VRS_MARKETPLACE_KEY"] not in str(project)
    async with runtime.database.session() as session:
        from stellwerk.models import Project

        row = await session.get(Project, project["id"])
        assert row is not None
        assert row.marketplace_key_hash == hash_key(envs["VRS_MARKETPLACE_KEY"])

    # One domain bought, one A record each for @ and www at INWX.
    assert list(sandboxes.inwx_state["domains"]) == ["demo-shop.de"]
    records = sandboxes.inwx_state["zones"]["demo-shop.de"]["records"]
    a_records = sorted((r["name"], r["content"]) for r in records if r["type"] == "A")
    assert a_records == [("demo-shop.de", "203.0.113.10"), ("www.demo-shop.de", "203.0.113.10")]
    assert {(r["name"], r["type"]) for r in project["dns_records"]} == {("@", "A"), ("www", "A")}

    listed = await client.get("/api/projects", headers=headers)
    assert [p["name"] for p in listed.json()["items"]] == ["demo"]


async def test_failed_deployment_then_retry(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    await sandboxes.deployments(fail=1)
    created = await _create(
        client,
        headers,
        name="failing",
        domain="failing-shop.de",
        plugins=["core"],
        register_domain=True,
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "error"
    assert project["error"]["step"] == "deploy"
    assert "failed" in project["error"]["message"]
    assert project["operation"]["status"] == "failed"
    # Compensation: app, Coolify project and DNS records gone; the domain stays.
    state = sandboxes.coolify_state
    assert state["applications"] == {}
    assert state["projects"] == {}
    records = sandboxes.inwx_state["zones"]["failing-shop.de"]["records"]
    assert [r for r in records if r["type"] == "A"] == []
    assert list(sandboxes.inwx_state["domains"]) == ["failing-shop.de"]
    assert project["coolify_app_uuid"] is None
    # The failed build's log stays readable after the compensation removed the application.
    log = await client.get(f"/api/projects/{project['id']}/deploy-log", headers=headers)
    assert log.status_code == 200
    assert log.json()["state"] == "error"
    failed_log = log.json()["log"]
    assert "Building docker image started." in failed_log
    assert "ERROR: process" in failed_log
    assert "Deployment failed. Removing the new version of your application." in failed_log
    assert "docker rm -f" not in failed_log  # Coolify's hidden commands stay hidden

    retried = await client.post(f"/api/projects/{project['id']}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    project = await wait_for_project(client, headers, int(project["id"]))
    assert project["state"] == "active", (project["error"], project["operation"])
    log = await client.get(f"/api/projects/{project['id']}/deploy-log", headers=headers)
    assert log.json()["log"].rstrip().endswith("Rolling update completed.")
    assert log.json()["deployment_uuid"] == project["deployment_uuid"]
    assert len(sandboxes.coolify_state["applications"]) == 1
    assert list(sandboxes.inwx_state["domains"]) == ["failing-shop.de"]
    again = await client.post(f"/api/projects/{project['id']}/retry", headers=headers)
    assert again.status_code == 409


async def test_two_projects_deploy_one_after_the_other(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    await sandboxes.deployments(queue_seconds=0.1, build_seconds=1.0)
    first, second = await asyncio.gather(
        _create(client, headers, name="one", domain="one-shop.de", plugins=["core"]),
        _create(client, headers, name="two", domain="two-shop.de", plugins=["core"]),
    )
    for created in (first, second):
        project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
        assert project["state"] == "active", (project["error"], project["operation"])
    deployments = (await sandboxes.deployments())["deployments"]
    assert len(deployments) == 2
    deployments.sort(key=lambda d: d["queued_at"])
    assert deployments[1]["queued_at"] >= deployments[0]["finished_at"]


async def test_suspend_resume_archive(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await _create(
        client, headers, name="life", domain="life-shop.de", register_domain=True
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "active"
    pid = project["id"]
    suspended = await client.post(f"/api/projects/{pid}/suspend", headers=headers)
    assert suspended.json()["state"] == "suspended"
    app_uuid = project["coolify_app_uuid"]
    assert sandboxes.coolify_state["applications"][app_uuid]["status"].startswith("exited")
    assert (await client.post(f"/api/projects/{pid}/suspend", headers=headers)).status_code == 409
    resumed = await client.post(f"/api/projects/{pid}/resume", headers=headers)
    assert resumed.json()["state"] == "active"
    archived = await client.post(f"/api/projects/{pid}/archive", headers=headers)
    assert archived.status_code == 200, archived.text
    body = archived.json()
    assert body["state"] == "archived"
    assert body["coolify_app_uuid"] is None
    assert sandboxes.coolify_state["applications"] == {}
    assert sandboxes.coolify_state["projects"] == {}
    zone = sandboxes.inwx_state["zones"]["life-shop.de"]
    assert [r for r in zone["records"] if r["type"] == "A"] == []
    assert list(sandboxes.inwx_state["domains"]) == ["life-shop.de"]


async def test_validation_and_conflicts(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    bad_name = await client.post(
        "/api/projects", json={"name": "Not Valid!", "domain": "x-shop.de"}, headers=headers
    )
    assert bad_name.status_code == 422
    assert bad_name.json()["field"] == "name"
    bad_domain = await client.post(
        "/api/projects", json={"name": "ok", "domain": "not a domain"}, headers=headers
    )
    assert bad_domain.status_code == 422
    assert bad_domain.json()["field"] == "domain"
    bad_plugin = await client.post(
        "/api/projects",
        json={"name": "ok", "domain": "ok-shop.de", "plugins": ["fine", "Bad Plugin"]},
        headers=headers,
    )
    assert bad_plugin.status_code == 422
    unknown_plugin = await client.post(
        "/api/projects",
        json={"name": "ok", "domain": "ok-shop.de", "plugins": ["core", "crn"]},
        headers=headers,
    )
    assert unknown_plugin.status_code == 422
    assert unknown_plugin.json()["field"] == "plugins"
    assert "did you mean crm?" in unknown_plugin.json()["detail"]
    bad_dns = await client.post(
        "/api/projects",
        json={"name": "ok", "domain": "ok-shop.de", "dns_provider": "nope"},
        headers=headers,
    )
    assert bad_dns.status_code == 422
    listed = await client.get("/api/projects", headers=headers)
    assert listed.json()["total"] == 0  # nothing half-written
    await _create(client, headers, name="taken", domain="taken-shop.de")
    dup = await client.post(
        "/api/projects", json={"name": "taken", "domain": "other-shop.de"}, headers=headers
    )
    assert dup.status_code == 409
    dup_domain = await client.post(
        "/api/projects", json={"name": "other", "domain": "taken-shop.de"}, headers=headers
    )
    assert dup_domain.status_code == 409
    missing = await client.get("/api/projects/9999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


async def test_scopes(client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes) -> None:
    user = await create_user(runtime)
    reader = bearer(await create_token(runtime, user, ["read:projects"]))
    response = await client.post(
        "/api/projects", json={"name": "x", "domain": "x-shop.de"}, headers=reader
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": "write:projects",
        "detail": "This credential lacks the scope write:projects",
    }
    assert (await client.get("/api/projects", headers=reader)).status_code == 200
    assert (await client.get("/api/projects")).status_code == 401
    # Buying the domain with the project is for admins, as `POST /api/registrar/domains`.
    writer = bearer(await create_token(runtime, user, ["read:projects", "write:projects"]))
    buying = await client.post(
        "/api/projects",
        json={"name": "buy", "domain": "buy-shop.de", "register_domain": True},
        headers=writer,
    )
    assert buying.status_code == 403, buying.text
    assert buying.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": "admin",
        "detail": "This credential lacks the scope admin",
    }
    assert (await client.get("/api/projects", headers=writer)).json()["items"] == []
    assert sandboxes.inwx_state["domains"] == {}


@pytest.mark.slow
async def test_powerdns_zone_records_resolve(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes, with_powerdns: PowerDns
) -> None:
    headers = await admin_headers(runtime)
    created = await _create(
        client, headers, name="pdns", domain="pdns-shop.de", dns_provider="powerdns"
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "active", (project["error"], project["operation"])
    assert project["dns_provider"] == "powerdns"
    for name in ("pdns-shop.de", "www.pdns-shop.de"):
        assert await asyncio.to_thread(resolve, with_powerdns, name, "A") == ["203.0.113.10"]
    archived = await client.post(f"/api/projects/{project['id']}/archive", headers=headers)
    assert archived.json()["state"] == "archived"
    with pytest.raises(dns.resolver.NXDOMAIN):
        await asyncio.to_thread(resolve, with_powerdns, "www.pdns-shop.de", "A")


async def test_server_created_through_coolify(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await _create(
        client, headers, name="withserver", domain="server-shop.de", create_server=True
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "active", (project["error"], project["operation"])
    server = sandboxes.coolify_state["servers"][project["server_uuid"]]
    assert server["name"] == "vrs-withserver"
    assert project["server_ip"] == server["ip"]
    assert {r["content"] for r in project["dns_records"]} == {server["ip"]}
    # The default type is one Hetzner sells (cx23), with the x86 image of the chosen name.
    assert server["_server_type"] == "cx23"
    assert hetzner.image_for(str(server["_image"]), "x86") is not None


@pytest.mark.parametrize(("server_type", "architecture"), [("cax11", "arm"), ("cpx22", "x86")])
async def test_the_image_matches_the_server_types_architecture(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: Sandboxes,
    monkeypatch: pytest.MonkeyPatch,
    server_type: str,
    architecture: str,
) -> None:
    """Hetzner lists `ubuntu-24.04` once per architecture (the arm one first here)."""
    monkeypatch.setattr(runtime.settings, "project_hetzner_server_type", server_type)
    headers = await admin_headers(runtime)
    created = await _create(
        client,
        headers,
        name=f"srv-{server_type}",
        domain=f"{server_type}-shop.de",
        create_server=True,
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "active", (project["error"], project["operation"])
    server = sandboxes.coolify_state["servers"][project["server_uuid"]]
    assert hetzner.image_for(str(server["_image"]), architecture) is not None


async def test_legacy_server_type_is_refused(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: Sandboxes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.settings, "project_hetzner_server_type", "cx31")
    headers = await admin_headers(runtime)
    created = await _create(
        client, headers, name="legacy", domain="legacy-shop.de", create_server=True
    )
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "error"
    assert project["error"]["step"] == "server"
    assert "cx31" in project["error"]["message"]


async def test_provisioning_stops_at_a_cname_it_did_not_create(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    zone = await client.post(
        "/api/dns/zones", json={"name": "cname-shop.de", "provider": "inwx"}, headers=headers
    )
    assert zone.status_code == 201
    cname = await client.post(
        "/api/dns/zones/cname-shop.de/records",
        json={"name": "www", "type": "CNAME", "content": "shops.example.net"},
        headers=headers,
    )
    assert cname.status_code == 201
    created = await _create(client, headers, name="cname", domain="cname-shop.de")
    project = await wait_for_project(client, headers, int(created["id"]))  # type: ignore[arg-type]
    assert project["state"] == "error"
    assert project["error"]["step"] == "dns"
    assert "www.cname-shop.de is a CNAME (to shops.example.net)" in project["error"]["message"]
    # Nothing of the project was written beside it; the CNAME stays.
    records = sandboxes.inwx_state["zones"]["cname-shop.de"]["records"]
    assert sorted(r["type"] for r in records if r["type"] not in ("SOA", "NS")) == ["CNAME"]
