"""Provisioning against Coolify as it really answers: deleting an application only queues the
work (the project refuses to go until it is done), a token without `read:sensitive` cannot see
variable values. Rollback, archive and retry leave nothing behind; a token lacking an ability
fails the step with a reason that names it."""

from __future__ import annotations

from typing import Any

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.project.factories import wait_for_project
from tests.provider.running import Sandboxes


async def _provision(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, domain: str
) -> dict[str, Any]:
    body = {"name": name, "domain": domain, "plugins": ["core"]}
    response = await client.post("/api/projects", headers=headers, json=body)
    assert response.status_code == 202, response.text
    return await wait_for_project(client, headers, int(response.json()["id"]), timeout=90)


def _a_records(sandboxes: Sandboxes, domain: str) -> list[str]:
    zone = sandboxes.inwx_state["zones"].get(domain) or {"records": []}
    return sorted(r["name"] for r in zone["records"] if r["type"] == "A")


def _nothing_left(sandboxes: Sandboxes, domain: str) -> None:
    coolify = sandboxes.coolify_state
    assert coolify["applications"] == {}
    assert coolify["projects"] == {}
    assert _a_records(sandboxes, domain) == []


async def test_rollback_retry_and_archive_leave_nothing_behind(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    await sandboxes.deployments(fail=1, delete_seconds=1.0)
    headers = await admin_headers(runtime)

    failed = await _provision(client, headers, "rollback", "rollback-shop.de")
    assert failed["state"] == "error"
    assert failed["error"]["step"] == "deploy"
    _nothing_left(sandboxes, "rollback-shop.de")

    retried = await client.post(f"/api/projects/{failed['id']}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    project = await wait_for_project(client, headers, int(failed["id"]), timeout=90)
    assert project["state"] == "active", (project["error"], project["operation"])
    assert len(sandboxes.coolify_state["applications"]) == 1
    assert _a_records(sandboxes, "rollback-shop.de") == ["rollback-shop.de", "www.rollback-shop.de"]

    archived = await client.post(f"/api/projects/{project['id']}/archive", headers=headers)
    assert archived.status_code == 200, archived.text
    assert archived.json()["state"] == "archived"
    _nothing_left(sandboxes, "rollback-shop.de")


async def test_a_token_that_cannot_read_values_fails_the_environment_step(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    """Without `read:sensitive` Coolify hides every value. When the environment step runs again
    (its answers were lost after Coolify stored the variables), it cannot see the SECRET_KEY it
    set and would replace it; it fails instead and says which ability is missing."""
    await sandboxes.control(
        sandboxes.coolify,
        "tokens",
        {"token": "sandbox-stellwerk", "abilities": ["read", "write", "deploy"]},
    )
    await sandboxes.control(
        sandboxes.coolify,
        "faults",
        {
            "kind": "status",
            "status": 502,
            "count": 4,
            "method": "PATCH",
            "path_suffix": "/envs/bulk",
            "after_write": True,
        },
    )
    headers = await admin_headers(runtime)
    project = await _provision(client, headers, "hidden", "hidden-shop.de")
    assert project["state"] == "error"
    assert project["error"]["step"] == "environment"
    assert "read:sensitive" in project["error"]["message"]
    _nothing_left(sandboxes, "hidden-shop.de")
