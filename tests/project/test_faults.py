"""Provider faults during project provisioning: INWX (registrar and DNS) and Coolify answer with
5xx, lose their answer after doing the work, or refuse with 429 bursts. The project ends active
with exactly one domain, one record per name, one Hetzner server (bought through Coolify), one
Coolify project and one application; or, when a provider keeps failing, in `error` with the
provider's reason and its pieces removed again."""

from __future__ import annotations

from typing import Any

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.project.factories import wait_for_project
from tests.provider.running import Sandboxes


async def _fault(sandboxes: Sandboxes, provider: str, **fault: Any) -> None:
    await sandboxes.control(getattr(sandboxes, provider), "faults", fault)


async def _provision(
    client: httpx.AsyncClient, runtime: Runtime, name: str, domain: str, **options: Any
) -> dict[str, Any]:
    headers = await admin_headers(runtime)
    body = {"name": name, "domain": domain, "plugins": ["core"], "register_domain": True}
    response = await client.post("/api/projects", headers=headers, json={**body, **options})
    assert response.status_code == 202, response.text
    return await wait_for_project(client, headers, int(response.json()["id"]), timeout=90)


def _a_records(sandboxes: Sandboxes, domain: str) -> list[str]:
    records = sandboxes.inwx_state["zones"][domain]["records"]
    return sorted(r["name"] for r in records if r["type"] == "A")


async def test_lost_answers_after_the_write_create_nothing_twice(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    """Each provider does the work and the answer is lost (a broken connection, or a 5xx after
    the write): the retried step finds what was made instead of buying or creating again."""
    await _fault(sandboxes, "inwx", kind="drop", count=1, body_contains='"domain.create"')
    await _fault(
        sandboxes,
        "inwx",
        kind="status",
        status=502,
        count=1,
        body_contains='"nameserver.createRecord"',
        after_write=True,
    )
    paths = ("/api/v1/servers/hetzner", "/api/v1/projects", "/api/v1/applications/public")
    for path in paths[1:]:
        await _fault(sandboxes, "coolify", kind="drop", count=1, method="POST", path=path)
    # The first answers above are lost before the write; these after it.
    await _fault(
        sandboxes, "inwx", kind="drop", count=1, body_contains='"domain.create"', after_write=True
    )
    for path in paths:
        await _fault(
            sandboxes, "coolify", kind="drop", count=1, method="POST", path=path, after_write=True
        )
    # Coolify queues the deployment and the answer with its uuid is lost.
    await _fault(
        sandboxes,
        "coolify",
        kind="drop",
        count=1,
        method="POST",
        path="/api/v1/applications/",
        path_suffix="/start",
        after_write=True,
    )

    project = await _provision(client, runtime, "faulty", "faulty-shop.de", create_server=True)

    assert project["state"] == "active", (project["error"], project["operation"])
    assert list(sandboxes.inwx_state["domains"]) == ["faulty-shop.de"]
    assert _a_records(sandboxes, "faulty-shop.de") == ["faulty-shop.de", "www.faulty-shop.de"]
    coolify = sandboxes.coolify_state
    servers = [s["uuid"] for s in coolify["servers"].values() if s["name"] == "vrs-faulty"]
    assert servers == [project["server_uuid"]]
    assert [p["uuid"] for p in coolify["projects"].values()] == [project["coolify_project_uuid"]]
    assert [a["uuid"] for a in coolify["applications"].values()] == [project["coolify_app_uuid"]]
    deployments = list(coolify["deployments"])
    assert deployments == [project["deployment_uuid"]]  # followed, not started a second time
    domains = await client.get("/api/registrar/domains", headers=await admin_headers(runtime))
    assert [d["name"] for d in domains.json()["items"]] == ["faulty-shop.de"]


async def test_rate_limit_bursts_are_waited_out(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    await _fault(sandboxes, "coolify", kind="rate_limit", count=2, retry_after=1, method="POST")
    await _fault(sandboxes, "inwx", kind="rate_limit", count=2, retry_after=1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sandboxes.coolify.port}") as http:
        refused = await http.post("/api/v1/projects", headers={"Authorization": "Bearer sandbox-x"})
    # Coolify's 429: Laravel's limit headers and Retry-After.
    assert refused.status_code == 429
    assert {"retry-after", "x-ratelimit-limit", "x-ratelimit-remaining"} <= set(refused.headers)

    project = await _provision(client, runtime, "limited", "limited-shop.de")

    assert project["state"] == "active", (project["error"], project["operation"])
    assert list(sandboxes.inwx_state["domains"]) == ["limited-shop.de"]
    assert len(sandboxes.coolify_state["applications"]) == 1


async def test_provider_keeps_failing_compensates_and_names_the_reason(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    await _fault(
        sandboxes,
        "coolify",
        kind="status",
        status=503,
        count=100,
        method="POST",
        path="/api/v1/applications/public",
    )

    project = await _provision(client, runtime, "broken", "broken-shop.de")

    assert project["state"] == "error"
    assert project["operation"]["status"] == "failed"
    assert project["error"]["step"] == "application"
    assert "Coolify answered HTTP 503" in project["error"]["message"]
    # Compensated: no Coolify project, no application, no DNS records; the domain stays.
    coolify = sandboxes.coolify_state
    assert coolify["projects"] == {}
    assert coolify["applications"] == {}
    assert _a_records(sandboxes, "broken-shop.de") == []
    assert list(sandboxes.inwx_state["domains"]) == ["broken-shop.de"]
