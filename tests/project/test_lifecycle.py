"""A project's whole life against the INWX and Coolify sandboxes: redeploy, edit, stop, start,
restart and delete, each an operation; after delete the sandboxes hold nothing of it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_token, create_user
from tests.project.factories import wait_for_project
from tests.provider.running import Sandboxes


async def _wait(
    client: httpx.AsyncClient, headers: dict[str, str], operation_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await client.get(f"/api/operations/{operation_id}", headers=headers)).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"operation {operation_id} did not finish: {body}")


async def _act(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    method: str,
    path: str,
    **kwargs: Any,
) -> dict[str, Any]:
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 202, response.text
    operation = response.json()["operation"]
    done = await _wait(client, headers, operation["id"])
    assert done["status"] == "completed", done
    return done


def _app(sandboxes: Sandboxes) -> dict[str, Any]:
    (app,) = sandboxes.coolify_state["applications"].values()
    return app  # type: ignore[no-any-return]


def _records(sandboxes: Sandboxes, zone: str) -> list[tuple[str, str, str]]:
    records = sandboxes.inwx_state["zones"][zone]["records"]
    return sorted(
        (r["name"], r["type"], r["content"]) for r in records if r["type"] not in ("SOA", "NS")
    )


async def test_a_project_through_its_whole_life(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await client.post(
        "/api/projects",
        json={
            "name": "life",
            "domain": "life-shop.de",
            "plugins": ["core"],
            "register_domain": True,
        },
        headers=headers,
    )
    assert created.status_code == 202, created.text
    project_id = created.json()["id"]
    project = await wait_for_project(client, headers, project_id)
    assert project["state"] == "active", project
    base = f"/api/projects/{project_id}"
    deployments = len(sandboxes.coolify_state["deployments"])

    # Redeploy the same commit: a new deployment.
    await _act(client, headers, "POST", f"{base}/redeploy")
    assert len(sandboxes.coolify_state["deployments"]) == deployments + 1
    # ... and a named branch and commit.
    await _act(
        client, headers, "POST", f"{base}/redeploy", json={"branch": "release", "commit": "ABCDEF1"}
    )
    app = _app(sandboxes)
    assert (app["git_branch"], app["git_commit_sha"]) == ("release", "abcdef1")
    latest = max(sandboxes.coolify_state["deployments"].values(), key=lambda d: d["id"])
    assert latest["commit"] == "abcdef1"

    # Edit: plugins, a variable, a further name (A record and Coolify domain).
    done = await _act(
        client,
        headers,
        "PATCH",
        base,
        json={"plugins": ["core", "crm"], "env": {"SHOP_MODE": "s3cr3t-mode"}, "domains": ["shop"]},
    )
    assert done["result"]["state"] == "active"
    app = _app(sandboxes)
    envs = {e["key"]: e["value"] for e in sandboxes.coolify_state["envs"][app["uuid"]]}
    assert (envs["VRS_PLUGINS"], envs["SHOP_MODE"]) == ("core,crm", "s3cr3t-mode")
    assert app["fqdn"] == "https://life-shop.de,https://www.life-shop.de,https://shop.life-shop.de"
    assert ("shop.life-shop.de", "A", "203.0.113.10") in _records(sandboxes, "life-shop.de")
    shown = (await client.get(base, headers=headers)).json()
    assert (shown["plugins"], shown["domains"], shown["env_keys"]) == (
        ["core", "crm"],
        ["shop.life-shop.de"],
        ["SHOP_MODE"],
    )
    # The value went to Coolify only: not shown, not in the operation, not in the audit log.
    assert "s3cr3t-mode" not in str(shown)
    operation = await client.get(f"/api/operations/{done['id']}", headers=headers)
    assert "s3cr3t-mode" not in operation.text
    assert "s3cr3t-mode" not in (await client.get("/api/admin/audit", headers=headers)).text
    # A reserved variable, a name outside the domain: refused before anything changes.
    for body, field in (
        ({"env": {"SECRET_KEY": "x"}}, "env"),
        ({"domains": ["shop.other.de"]}, "domains"),
        ({"domains": ["www"]}, "domains"),
        ({"unknown": 1}, None),
    ):
        refused = await client.patch(base, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        if field:
            assert refused.json()["field"] == field
    # Removing the name again and the variable: its record goes.
    await _act(client, headers, "PATCH", base, json={"env": {"SHOP_MODE": None}, "domains": []})
    app = _app(sandboxes)
    assert "SHOP_MODE" not in {e["key"] for e in sandboxes.coolify_state["envs"][app["uuid"]]}
    assert app["fqdn"] == "https://life-shop.de,https://www.life-shop.de"
    assert [r for r in _records(sandboxes, "life-shop.de") if r[0].startswith("shop.")] == []

    # Stop, start, restart.
    await _act(client, headers, "POST", f"{base}/stop")
    assert (await client.get(base, headers=headers)).json()["state"] == "stopped"
    assert _app(sandboxes)["status"].startswith("exited")
    wrong = await client.post(f"{base}/restart", headers=headers)
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "invalid_state"
    await _act(client, headers, "POST", f"{base}/start")
    assert (await client.get(base, headers=headers)).json()["state"] == "active"
    assert _app(sandboxes)["status"] == "running:healthy"
    before = len(sandboxes.coolify_state["deployments"])
    await _act(client, headers, "POST", f"{base}/restart")
    restarts = [d for d in sandboxes.coolify_state["deployments"].values() if d["restart_only"]]
    assert len(sandboxes.coolify_state["deployments"]) == before + 1
    assert restarts

    # Delete with the zone: nothing of it stays at Coolify or the DNS; the domain stays.
    await client.post(
        "/api/dns/zones/life-shop.de/records",
        json={"name": "mail", "type": "A", "content": "192.0.2.50"},
        headers=headers,
    )
    done = await _act(client, headers, "DELETE", base, params={"delete_zone": "true"})
    assert done["result"]["zone_deleted"] is True
    state = sandboxes.coolify_state
    assert (state["projects"], state["applications"]) == ({}, {})
    assert not any(state["envs"].values())
    assert "life-shop.de" not in sandboxes.inwx_state["zones"]
    assert list(sandboxes.inwx_state["domains"]) == ["life-shop.de"]
    assert (await client.get(base, headers=headers)).status_code == 404
    zones = (await client.get("/api/dns/zones", headers=headers)).json()
    assert "life-shop.de" not in [z["name"] for z in zones]
    domains = (await client.get("/api/registrar/domains", headers=headers)).json()
    assert [d["name"] for d in domains["items"]] == ["life-shop.de"]


async def test_delete_keeps_the_zone_and_records_it_did_not_create(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    await client.post(
        "/api/dns/zones", json={"name": "keep-shop.de", "provider": "inwx"}, headers=headers
    )
    await client.post(
        "/api/dns/zones/keep-shop.de/records",
        json={"name": "@", "type": "MX", "content": "mail.example.net", "priority": 10},
        headers=headers,
    )
    created = await client.post(
        "/api/projects", json={"name": "keep", "domain": "keep-shop.de"}, headers=headers
    )
    project = await wait_for_project(client, headers, created.json()["id"])
    assert project["state"] == "active", project
    await _act(client, headers, "DELETE", f"/api/projects/{project['id']}")
    assert _records(sandboxes, "keep-shop.de") == [("keep-shop.de", "MX", "mail.example.net")]
    assert sandboxes.coolify_state["applications"] == {}


async def test_busy_and_others_projects(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    headers = await admin_headers(runtime)
    created = await client.post(
        "/api/projects", json={"name": "busy", "domain": "busy-shop.de"}, headers=headers
    )
    project_id = created.json()["id"]
    # Provisioning: no other action yet.
    busy = await client.post(f"/api/projects/{project_id}/restart", headers=headers)
    assert busy.status_code == 409
    assert busy.json()["code"] == "project_busy"
    project = await wait_for_project(client, headers, project_id)
    assert project["state"] == "active"
    first = await client.post(f"/api/projects/{project_id}/restart", headers=headers)
    again = await client.post(f"/api/projects/{project_id}/restart", headers=headers)
    assert first.json()["operation"]["id"] == again.json()["operation"]["id"]
    other = await client.post(f"/api/projects/{project_id}/stop", headers=headers)
    assert other.status_code == 409
    await _wait(client, headers, first.json()["operation"]["id"])
    # Someone else's project is not found, whatever the action.
    stranger = bearer(await create_token(runtime, await create_user(runtime), ["write:projects"]))
    for method, path in (
        ("POST", f"/api/projects/{project_id}/redeploy"),
        ("POST", f"/api/projects/{project_id}/stop"),
        ("PATCH", f"/api/projects/{project_id}"),
        ("DELETE", f"/api/projects/{project_id}"),
    ):
        response = await client.request(
            method, path, json={} if method == "PATCH" else None, headers=stranger
        )
        assert response.status_code == 404, (path, response.text)
