"""What each role may order and see: customers order active plans at the plan's price within
their quota and never see the company's costs; staff see the costs; admins order any size."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import update

from stellwerk.models import User
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_staff, create_user, jwt_for
from tests.provider.compute.conftest import Sandbox
from tests.server.factories import body_for, create_provider, offer_plan, wait_for_operation

LINODE_CREATE = "/v4/linode/instances"


async def _creates_at(sandbox: Sandbox) -> int:
    return sum(
        1 for r in await sandbox.requests() if r["method"] == "POST" and r["path"] == LINODE_CREATE
    )


async def _linode_with_plan(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    admin = await admin_headers(runtime)
    provider = await create_provider(client, admin, sandboxes["linode"], plans=False)
    plan = await offer_plan(client, admin, provider, "g6-nanode-1", markup=2.0)
    return admin, provider, plan


async def test_customers_see_retail_prices_and_only_the_sizes_of_plans(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    _, _, plan = await _linode_with_plan(client, runtime, sandboxes)
    customer = bearer(jwt_for(runtime, await create_user(runtime)))
    staff = bearer(jwt_for(runtime, await create_staff(runtime)))

    seen = (await client.get("/api/vps/plans", headers=customer)).json()["plans"]
    assert [(p["base_price"], p["markup_price"]) for p in seen] == [(None, None)]
    assert seen[0]["price_monthly"] == plan["price_monthly"]
    costs = (await client.get("/api/vps/plans", headers=staff)).json()["plans"]
    assert costs[0]["markup_price"] == 2.0
    assert costs[0]["base_price"] == plan["base_price"]

    sizes = (await client.get("/api/vps/linode/types", headers=customer)).json()["types"]
    assert [s["id"] for s in sizes] == ["g6-nanode-1"]
    assert sizes[0]["price"]["monthly"] == plan["price_monthly"]
    everything = (await client.get("/api/vps/linode/types", headers=staff)).json()["types"]
    assert len(everything) > 1
    nanode = next(s for s in everything if s["id"] == "g6-nanode-1")
    assert nanode["price"]["monthly"] == plan["base_price"]  # the provider's own price


async def test_a_size_without_a_plan_is_for_admins(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin, provider, _ = await _linode_with_plan(client, runtime, sandboxes)
    body = body_for(provider, type="g6-standard-2", label="bigger-one")
    for user in (await create_user(runtime), await create_staff(runtime)):
        refused = await client.post("/api/vps", headers=bearer(jwt_for(runtime, user)), json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json() == {
            "success": False,
            "error": refused.json()["error"],
            "code": "PLAN_REQUIRED",
            "field": "type",
        }
    assert await _creates_at(sandboxes["linode"]) == 0
    assert (await client.get("/api/vps", headers=admin)).json()["total"] == 0

    ordered = await client.post("/api/vps", headers=admin, json=body)
    assert ordered.status_code == 201, ordered.text
    await wait_for_operation(client, admin, ordered.json()["instance"]["operation_id"])
    assert await _creates_at(sandboxes["linode"]) == 1


async def test_ordering_a_plan_by_its_id_charges_the_plan(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    _, provider, plan = await _linode_with_plan(client, runtime, sandboxes)
    customer = bearer(jwt_for(runtime, await create_user(runtime)))
    body = {k: v for k, v in body_for(provider).items() if k not in ("type", "provider_id")}
    ordered = await client.post("/api/vps", headers=customer, json={**body, "plan_id": plan["id"]})
    assert ordered.status_code == 201, ordered.text
    instance = ordered.json()["instance"]
    await wait_for_operation(client, customer, instance["operation_id"])
    detail = (await client.get(f"/api/vps/{instance['id']}", headers=customer)).json()
    assert detail["instance"]["type"] == "g6-nanode-1"
    assert detail["instance"]["monthly_rate"] == plan["price_monthly"]

    wrong = await client.post(
        "/api/vps",
        headers=customer,
        json={**body, "plan_id": plan["id"], "type": "g6-standard-2", "label": "other"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "type"


async def test_the_quota_holds_under_concurrent_orders(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    _, provider, _ = await _linode_with_plan(client, runtime, sandboxes)
    user = await create_user(runtime)
    async with runtime.database.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(server_quota=1))
    customer = bearer(jwt_for(runtime, user))
    answers = await asyncio.gather(
        *(
            client.post("/api/vps", headers=customer, json=body_for(provider, label=f"srv-{n}"))
            for n in range(3)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 403, 403], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 403)
    assert refused.json()["code"] == "QUOTA_EXCEEDED"
    created = next(a for a in answers if a.status_code == 201).json()["instance"]
    await wait_for_operation(client, customer, created["operation_id"])
    assert (await client.get("/api/vps", headers=customer)).json()["total"] == 1

    # A deleted server frees its place.
    deleted = await client.post(
        f"/api/vps/{created['id']}/action", headers=customer, json={"action": "delete"}
    )
    assert deleted.status_code == 200, deleted.text
    again = await client.post("/api/vps", headers=customer, json=body_for(provider, label="new"))
    assert again.status_code == 201, again.text


async def test_staff_manage_every_customers_server(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    _, provider, _ = await _linode_with_plan(client, runtime, sandboxes)
    customer = bearer(jwt_for(runtime, await create_user(runtime)))
    staff = bearer(jwt_for(runtime, await create_staff(runtime)))
    created = (await client.post("/api/vps", headers=customer, json=body_for(provider))).json()
    instance = created["instance"]
    await wait_for_operation(client, customer, instance["operation_id"])
    assert (await client.get("/api/vps", headers=staff)).json()["total"] == 1
    shown = await client.get(f"/api/vps/{instance['id']}", headers=staff)
    assert shown.status_code == 200
    rebooted = await client.post(
        f"/api/vps/{instance['id']}/action", headers=staff, json={"action": "reboot"}
    )
    assert rebooted.status_code == 200, rebooted.text
