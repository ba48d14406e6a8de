"""Instances: the documented bodies against the sandboxes, idempotency, isolation, actions,
validation errors and reconciliation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from stellwerk.runtime import Runtime
from stellwerk.server.service import reconcile
from tests.factories import admin_headers, bearer, create_token, create_user, jwt_for
from tests.provider.compute.conftest import Sandbox
from tests.server.factories import body_for, create_provider, create_running, wait_for_operation

CREATED_KEYS = {
    "id",
    "provider_id",
    "provider_type",
    "provider_instance_id",
    "label",
    "status",
    "ip_address",
    "region",
    "created_at",
}
DETAIL_KEYS = CREATED_KEYS | {
    "ipv6_address",
    "plan_specs",
    "hourly_rate",
    "monthly_rate",
    "updated_at",
}
SERVER_PATHS = {
    "digitalocean": "/v2/droplets",
    "linode": "/v4/linode/instances",
    "hetzner": "/v1/servers",
}


async def _user(runtime: Runtime) -> dict[str, str]:
    return bearer(jwt_for(runtime, await create_user(runtime)))


async def _servers_at(sandbox: Sandbox) -> int:
    posts = [
        r
        for r in await sandbox.requests()
        if r["method"] == "POST" and r["path"] == SERVER_PATHS[sandbox.case.name]
    ]
    return len(posts)


@pytest.mark.parametrize("name", ["digitalocean", "linode", "hetzner"])
async def test_documented_body_creates_a_running_server(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox], name: str
) -> None:
    provider = await create_provider(client, await admin_headers(runtime), sandboxes[name])
    user = await _user(runtime)
    response = await client.post("/api/vps", headers=user, json=body_for(provider))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    instance = body["instance"]
    assert set(instance) >= CREATED_KEYS
    assert instance["status"] == "provisioning"
    assert instance["provider_type"] == name
    assert instance["provider_id"] == provider["id"]
    assert instance["label"] == "my-web-server"
    assert instance["ip_address"] is None
    assert "secure-password-here" not in response.text

    operation = await wait_for_operation(client, user, instance["operation_id"])
    assert operation["status"] == "completed", operation
    detail = (await client.get(f"/api/vps/{instance['id']}", headers=user)).json()["instance"]
    assert set(detail) >= DETAIL_KEYS
    assert detail["status"] == "running"
    assert detail["provider_instance_id"]
    assert detail["ip_address"]
    assert detail["ipv6_address"]
    assert set(detail["plan_specs"]) == {"vcpus", "memory", "disk", "transfer"}
    assert detail["monthly_rate"] > 0
    assert detail["hourly_rate"] > 0
    assert await _servers_at(sandboxes[name]) == 1


async def test_digitalocean_rates_and_specs_as_documented(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    provider = await create_provider(
        client, await admin_headers(runtime), sandboxes["digitalocean"]
    )
    user = await _user(runtime)
    detail = await create_running(client, user, provider)
    assert detail["region"] == "nyc3"
    assert detail["plan_specs"] == {"vcpus": 1, "memory": 1024, "disk": 25, "transfer": 1000}
    assert detail["hourly_rate"] == 0.00893
    assert detail["monthly_rate"] == 6.00
    droplets = await sandboxes["digitalocean"].requests()
    assert any(r["path"] == "/v2/1-clicks" for r in droplets)


async def test_plan_price_is_base_plus_markup(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    provider = await create_provider(client, admin, sandboxes["linode"], plans=False)
    created = await client.post(
        "/api/admin/plans",
        headers=admin,
        json={
            "provider_id": provider["id"],
            "provider_plan_id": "g6-nanode-1",
            "base_price": "5.00",
            "markup_price": "1.72",
        },
    )
    assert created.status_code == 201, created.text
    plan = created.json()["plan"]
    assert plan["price_monthly"] == 6.72
    assert plan["price_hourly"] == 0.01
    assert plan["specifications"]["memory"] == 1024
    user = await _user(runtime)
    offered = (await client.get("/api/vps/plans", headers=user)).json()["plans"]
    assert [p["provider_plan_id"] for p in offered] == ["g6-nanode-1"]
    detail = await create_running(client, user, provider)
    assert detail["monthly_rate"] == 6.72
    assert detail["hourly_rate"] == 0.01

    unknown = await client.post(
        "/api/admin/plans",
        headers=admin,
        json={"provider_id": provider["id"], "provider_plan_id": "g6-nope"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "provider_plan_id"
    disabled = await client.delete(f"/api/admin/plans/{plan['id']}", headers=admin)
    assert disabled.json()["success"] is True
    assert (await client.get("/api/vps/plans", headers=user)).json()["plans"] == []
    listed = (await client.get("/api/admin/plans", headers=admin)).json()["plans"]
    assert listed[0]["active"] is False


async def test_same_idempotency_key_makes_one_server(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    provider = await create_provider(client, await admin_headers(runtime), sandboxes["hetzner"])
    user = await _user(runtime) | {"Idempotency-Key": "create-web-1"}
    first, second = await asyncio.gather(
        client.post("/api/vps", headers=user, json=body_for(provider)),
        client.post("/api/vps", headers=user, json=body_for(provider)),
    )
    assert {first.status_code, second.status_code} <= {200, 201}
    assert first.json()["instance"]["id"] == second.json()["instance"]["id"]
    await wait_for_operation(client, user, first.json()["instance"]["operation_id"])
    third = await client.post("/api/vps", headers=user, json=body_for(provider))
    assert third.status_code == 200
    assert third.json()["instance"]["id"] == first.json()["instance"]["id"]
    assert third.json()["instance"]["status"] == "running"
    assert await _servers_at(sandboxes["hetzner"]) == 1
    listed = (await client.get("/api/vps", headers=user)).json()
    assert listed["total"] == 1

    changed = await client.post(
        "/api/vps", headers=user, json=body_for(provider, label="another-server")
    )
    assert changed.status_code == 409
    assert changed.json()["field"] == "Idempotency-Key"


async def test_other_users_instances_are_not_found(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    provider = await create_provider(client, await admin_headers(runtime), sandboxes["linode"])
    alice = await _user(runtime)
    bob = await _user(runtime)
    created = (await client.post("/api/vps", headers=alice, json=body_for(provider))).json()
    instance_id = created["instance"]["id"]
    await wait_for_operation(client, alice, created["instance"]["operation_id"])
    for response in (
        await client.get(f"/api/vps/{instance_id}", headers=bob),
        await client.post(f"/api/vps/{instance_id}/action", headers=bob, json={"action": "reboot"}),
    ):
        assert response.status_code == 404
        assert response.json()["success"] is False
        assert response.json()["code"] == "NOT_FOUND"
    assert (await client.get("/api/vps", headers=bob)).json()["instances"] == []
    assert len((await client.get("/api/vps", headers=alice)).json()["instances"]) == 1


@pytest.mark.parametrize("name", ["digitalocean", "linode", "hetzner"])
async def test_actions(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox], name: str
) -> None:
    provider = await create_provider(client, await admin_headers(runtime), sandboxes[name])
    user = await _user(runtime)
    detail = await create_running(client, user, provider)
    path = f"/api/vps/{detail['id']}/action"
    for action in ("reboot", "shutdown", "boot", "power_off", "power_on"):
        response = await client.post(path, headers=user, json={"action": action})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "success": True,
            "message": f"Action {action} initiated successfully",
        }
        await asyncio.sleep(0.3)  # the sandbox's action delay
    cycle = await client.post(path, headers=user, json={"action": "power_cycle"})
    if name == "digitalocean":
        assert cycle.status_code == 200
    else:
        assert cycle.status_code == 400
        assert cycle.json()["code"] == "INVALID_ACTION"
        assert cycle.json()["field"] == "action"
    unknown = await client.post(path, headers=user, json={"action": "explode"})
    assert unknown.json()["code"] == "INVALID_ACTION"
    deleted = await client.post(path, headers=user, json={"action": "delete"})
    assert deleted.status_code == 200
    after = (await client.get(f"/api/vps/{detail['id']}", headers=user)).json()["instance"]
    assert after["status"] == "deleted"
    assert (await client.get("/api/vps", headers=user)).json()["total"] == 0


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"region": "mars1"}, 422, "VALIDATION_ERROR", "region"),
        ({"image": "windows-95"}, 422, "VALIDATION_ERROR", "image"),
        ({"type": "s-64vcpu-1tb"}, 422, "VALIDATION_ERROR", "type"),
        ({"label": "x"}, 422, "VALIDATION_ERROR", "label"),
        ({"label": None}, 422, "VALIDATION_ERROR", "label"),
        ({"appSlug": "nope"}, 422, "VALIDATION_ERROR", "appSlug"),
        ({"rootPassword": "short"}, 422, "VALIDATION_ERROR", "rootPassword"),
        ({"sshKeys": ["99999"]}, 422, "VALIDATION_ERROR", "sshKeys"),
        ({"provider_type": "linode"}, 422, "VALIDATION_ERROR", "provider_type"),
        (
            {"provider_id": "00000000-0000-0000-0000-000000000000"},
            404,
            "PROVIDER_NOT_FOUND",
            "provider_id",
        ),
        ({"tags": "not-a-list"}, 422, "VALIDATION_ERROR", "tags"),
    ],
)
async def test_invalid_requests_name_the_field(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    changes: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    provider = await create_provider(
        client, await admin_headers(runtime), sandboxes["digitalocean"]
    )
    user = await _user(runtime)
    response = await client.post("/api/vps", headers=user, json=body_for(provider, **changes))
    if code == "VALIDATION_ERROR" and field == "sshKeys":
        # Only the provider knows its SSH keys: the create operation fails with its verdict.
        assert response.status_code == 201
        operation = await wait_for_operation(
            client, user, response.json()["instance"]["operation_id"]
        )
        assert operation["status"] == "failed"
        assert operation["error"]["field"] == "sshKeys"
        detail = await client.get(f"/api/vps/{response.json()['instance']['id']}", headers=user)
        assert detail.json()["instance"]["status"] == "failed"
        return
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["code"], body["field"]) == (False, code, field)
    assert isinstance(body["error"], str)
    assert body["error"]
    assert (await client.get("/api/vps", headers=user)).json()["total"] == 0


@pytest.mark.parametrize("field", ["region", "type", "image", "label", "provider_type"])
async def test_an_empty_choice_is_an_error_not_the_default(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox], field: str
) -> None:
    provider = await create_provider(
        client,
        await admin_headers(runtime),
        sandboxes["digitalocean"],
        configuration={"default_region": "nyc3"},
    )
    user = await _user(runtime)
    empty = await client.post("/api/vps", headers=user, json=body_for(provider, **{field: ""}))
    assert empty.status_code == 422, empty.text
    body = empty.json()
    assert (body["success"], body["code"], body["field"]) == (False, "VALIDATION_ERROR", field)
    assert (await client.get("/api/vps", headers=user)).json()["total"] == 0
    if field == "region":
        # Left out, the provider's default region still applies.
        omitted = await client.post("/api/vps", headers=user, json=body_for(provider, region=...))
        assert omitted.status_code == 201, omitted.text
        assert omitted.json()["instance"]["region"] == "nyc3"


async def test_provider_state_errors(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    user = await _user(runtime)
    missing = await client.post(
        "/api/vps",
        headers=user,
        json={**body_for({"type": "linode", "id": None}), "provider_id": None},
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "MISSING_CREDENTIALS"
    provider = await create_provider(client, admin, sandboxes["linode"])
    await client.put(
        f"/api/admin/providers/{provider['id']}", headers=admin, json={"active": False}
    )
    inactive = await client.post("/api/vps", headers=user, json=body_for(provider))
    assert inactive.status_code == 409
    assert inactive.json()["code"] == "PROVIDER_INACTIVE"


async def test_scoped_tokens(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    provider = await create_provider(
        client, await admin_headers(runtime), sandboxes["digitalocean"]
    )
    owner = await create_user(runtime)
    reader = bearer(await create_token(runtime, owner, ["read:servers"]))
    writer = bearer(await create_token(runtime, owner, ["write:servers"]))
    assert (await client.get("/api/vps", headers=reader)).status_code == 200
    refused = await client.post("/api/vps", headers=reader, json=body_for(provider))
    assert refused.status_code == 403
    assert refused.json()["required"] == "write:servers"
    created = await client.post("/api/vps", headers=writer, json=body_for(provider))
    assert created.status_code == 201
    assert (await client.get("/api/vps", headers=writer)).status_code == 403


async def test_reconciliation_follows_the_provider(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    sandbox = sandboxes["digitalocean"]
    provider = await create_provider(client, await admin_headers(runtime), sandbox)
    user = await _user(runtime)
    detail = await create_running(client, user, provider)
    droplet = detail["provider_instance_id"]
    async with httpx.AsyncClient(base_url=sandbox.root) as http:
        await http.delete(
            f"/v2/droplets/{droplet}", headers={"Authorization": "Bearer sandbox-direct"}
        )
    async with runtime.database.session() as session:
        counts = await reconcile(session, settings=runtime.settings)
    assert counts["deleted"] == 1
    listed = (await client.get("/api/vps", headers=user)).json()
    assert listed["instances"] == []
