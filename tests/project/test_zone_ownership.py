"""A customer's project never takes over DNS that is not theirs: not another's zone, not a zone
inside or around one (the most specific zone answers on a shared name server), and not a zone
that exists at the provider without being recorded as theirs."""

from __future__ import annotations

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_staff, create_user, jwt_for
from tests.project.factories import wait_for_project
from tests.provider.running import Sandboxes


async def _project(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, domain: str
) -> httpx.Response:
    return await client.post(
        "/api/projects", json={"name": name, "domain": domain}, headers=headers
    )


async def test_zones_inside_or_around_anothers_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    carol = bearer(jwt_for(runtime, await create_user(runtime)))
    bob = bearer(jwt_for(runtime, await create_user(runtime)))
    staff = bearer(jwt_for(runtime, await create_staff(runtime)))
    created = await _project(client, carol, "carolshop", "carol-shop.de")
    assert created.status_code == 202, created.text
    done = await wait_for_project(client, carol, created.json()["id"])
    assert done["state"] == "active", done["error"]
    zones = (await client.get("/api/dns/zones", headers=carol)).json()
    assert [z["name"] for z in zones] == ["carol-shop.de"]

    for domain in ("carol-shop.de", "www.carol-shop.de", "deep.shop.carol-shop.de"):
        refused = await _project(client, bob, f"bob{len(domain)}", domain)
        assert refused.status_code == 409, (domain, refused.text)
        assert refused.json()["code"] == "domain_in_use"
    # Staff manage the company's zones, not a customer's: no zone inside Carol's either.
    inside = await client.post("/api/dns/zones", json={"name": "www.carol-shop.de"}, headers=staff)
    assert inside.status_code == 409
    assert inside.json()["code"] == "zone_exists"
    # Carol herself may put a project on a name inside her own zone.
    own = await _project(client, carol, "carolblog", "blog.carol-shop.de")
    assert own.status_code == 202, own.text


async def test_a_zone_at_the_provider_that_is_not_recorded_is_not_taken_over(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    admin = await admin_headers(runtime)
    # The company's zone exists at the provider, but Stellwerk was told to forget it.
    added = await client.post("/api/dns/zones", json={"name": "firma-x.de"}, headers=admin)
    assert added.status_code == 201, added.text
    assert (await client.delete("/api/dns/zones/firma-x.de", headers=admin)).status_code == 204
    carol = bearer(jwt_for(runtime, await create_user(runtime)))
    for name, domain in (("takeover", "firma-x.de"), ("inside", "shop.firma-x.de")):
        created = await _project(client, carol, name, domain)
        assert created.status_code == 202, created.text
        project = await wait_for_project(client, carol, created.json()["id"])
        assert project["state"] == "error"
        assert project["error"]["step"] == "dns", project["error"]
        assert "not recorded as yours" in project["error"]["message"]
    zones = (await client.get("/api/dns/zones", headers=admin)).json()
    assert zones == []
    records = await client.get("/api/dns/zones/firma-x.de/records", headers=admin)
    assert all(r["name"] in ("@",) and r["type"] in ("NS", "SOA") for r in records.json()), (
        records.json()
    )
