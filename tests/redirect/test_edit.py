"""Editing domains, groups and bulk actions through `/api/v1`, with the owner scoping."""

from __future__ import annotations

import time

import httpx

from stellwerk.kit.time import utc_now
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user
from tests.redirect.conftest import RunningPlane, wait_for
from tests.redirect.factories import create_domain, hit_row, write_hits

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


async def _headers(runtime: Runtime) -> tuple[dict[str, str], object]:
    user = await create_user(runtime)
    return bearer(await create_token(runtime, user, ALL)), user


def ms() -> int:
    return int(utc_now().timestamp() * 1000)


class TestEdit:
    async def test_patch_changes_the_target_within_a_second_and_keeps_the_history(
        self, client: httpx.AsyncClient, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        headers, user = await _headers(runtime)
        record = await create_domain(runtime, user, domain="moving.example")
        await write_hits(runtime, [hit_row(record.id, ts=ms(), user_agent=BROWSER)] * 2)

        async def routed() -> bool:
            return "moving.example" in data_plane.plane.table.routes

        await wait_for(routed)
        response = await client.patch(
            f"/api/v1/domains/{record.id}",
            headers=headers,
            json={"target_url": "https://new.firma.example/start", "redirect_code": 302},
        )
        assert response.status_code == 200, response.text
        body = response.json()["domain"]
        assert body["target_url"] == "https://new.firma.example/start"
        assert body["redirect_code"] == 302
        assert body["preserve_path"] == 1  # untouched
        changed = time.monotonic()
        async with httpx.AsyncClient(base_url=data_plane.url) as http:

            async def redirected() -> bool:
                answer = await http.get("/a", headers={"Host": "moving.example"})
                return answer.headers.get("location") == "https://new.firma.example/start/a"

            await wait_for(redirected, timeout=3.0)
        assert time.monotonic() - changed < 1.5  # within a second, plus polling slack
        stats = (await client.get(f"/api/v1/domains/{record.id}/stats", headers=headers)).json()
        assert stats["total"] == 2
        hits = (await client.get(f"/api/v1/hits?domain_id={record.id}", headers=headers)).json()
        assert len(hits["hits"]) >= 2
        audit = (await client.get("/api/admin/audit", headers=bearer(await _admin(runtime)))).json()
        events = [e for e in audit["items"] if e["action"] == "redirect_domain.update"]
        assert events[0]["detail"]["changes"]["redirect_code"] == {"from": 301, "to": 302}

    async def test_put_replaces_everything_editable_and_never_the_name(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers, user = await _headers(runtime)
        record = await create_domain(runtime, user, redirect_code=308, include_www=False)
        url = f"/api/v1/domains/{record.id}"
        put = await client.put(url, headers=headers, json={"target_url": "https://t.example"})
        assert put.status_code == 200, put.text
        body = put.json()["domain"]
        assert (body["redirect_code"], body["include_www"]) == (301, 1)
        same_name = await client.put(
            url,
            headers=headers,
            json={"domain": record.domain.upper(), "target_url": "https://t.example"},
        )
        assert same_name.status_code == 200
        renamed = await client.patch(url, headers=headers, json={"domain": "other.example"})
        assert renamed.status_code == 422
        assert renamed.json()["code"] == "domain_immutable"
        loop = await client.patch(
            url, headers=headers, json={"target_url": f"https://www.{record.domain}/"}
        )
        assert (loop.status_code, loop.json()["code"]) == (422, "redirect_loop")
        null = await client.patch(url, headers=headers, json={"target_url": None})
        assert null.status_code == 422
        assert (await client.get(url, headers=headers)).json()["domain"]["target_url"] == (
            "https://t.example"
        )

    async def test_someone_elses_domain_is_not_found(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers, _ = await _headers(runtime)
        other = await create_user(runtime)
        foreign = await create_domain(runtime, other)
        for method in ("PATCH", "PUT"):
            response = await client.request(
                method,
                f"/api/v1/domains/{foreign.id}",
                headers=headers,
                json={"target_url": "https://x.example"},
            )
            assert response.status_code == 404
        read_only = bearer(await create_token(runtime, other, ["read:domains"]))
        forbidden = await client.patch(
            f"/api/v1/domains/{foreign.id}", headers=read_only, json={"redirect_code": 302}
        )
        assert forbidden.json() == {
            "error": "forbidden",
            "code": "missing_scope",
            "required": "write:domains",
        }


async def _admin(runtime: Runtime) -> str:
    admin = await create_admin(runtime)
    return await create_token(runtime, admin, ["admin"])


class TestGroups:
    async def test_groups_filter_lists_and_stay_private(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers, user = await _headers(runtime)
        created = await client.post(
            "/api/v1/groups", headers=headers, json={"name": "Old brands", "color": "#AA3300"}
        )
        assert created.status_code == 201, created.text
        group = created.json()["group"]
        assert (group["color"], group["domain_count"]) == ("#aa3300", 0)
        twice = await client.post("/api/v1/groups", headers=headers, json={"name": "old  brands"})
        assert (twice.status_code, twice.json()["code"]) == (409, "group_exists")
        grouped = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={
                "domain": "g1.example",
                "target_url": "https://t.example",
                "group_id": group["id"],
            },
        )
        assert grouped.json()["domain"]["group_id"] == group["id"]
        await create_domain(runtime, user, domain="loose.example")
        listed = (
            await client.get(f"/api/v1/domains?group_id={group['id']}", headers=headers)
        ).json()
        assert [d["domain"] for d in listed["domains"]] == ["g1.example"]
        assert listed["total"] == 1
        searched = (await client.get("/api/v1/domains?q=LOOSE", headers=headers)).json()
        assert [d["domain"] for d in searched["domains"]] == ["loose.example"]

        other_headers, other = await _headers(runtime)
        assert (
            await client.get(f"/api/v1/groups/{group['id']}", headers=other_headers)
        ).status_code == 404
        assert (await client.get("/api/v1/groups", headers=other_headers)).json()["groups"] == []
        foreign_group = await client.post(
            "/api/v1/domains",
            headers=other_headers,
            json={
                "domain": "g2.example",
                "target_url": "https://t.example",
                "group_id": group["id"],
            },
        )
        assert (foreign_group.status_code, foreign_group.json()["code"]) == (422, "group_not_found")
        summary = await client.get(
            f"/api/v1/analytics/summary?group_id={group['id']}", headers=other_headers
        )
        assert summary.status_code == 404

        deleted = await client.delete(f"/api/v1/groups/{group['id']}", headers=headers)
        assert deleted.json() == {"ok": True, "id": group["id"], "domains_ungrouped": 1}
        domains = (await client.get("/api/v1/domains", headers=headers)).json()["domains"]
        assert {d["group_id"] for d in domains} == {None}

    async def test_bulk_actions_on_a_group(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers, user = await _headers(runtime)
        group = (
            await client.post(
                "/api/v1/groups",
                headers=headers,
                json={"name": "Shop", "target_url": "https://shop.example"},
            )
        ).json()["group"]
        ids = []
        for name in ("a.example", "b.example"):
            created = await client.post(
                "/api/v1/domains", headers=headers, json={"domain": name, "group_id": group["id"]}
            )
            assert created.json()["domain"]["target_url"] == "https://shop.example"  # the group's
            ids.append(created.json()["domain"]["id"])
        moved = await client.post(
            "/api/v1/domains/bulk",
            headers=headers,
            json={
                "action": "set_target",
                "group_id": group["id"],
                "target_url": "https://new-shop.example",
                "redirect_code": 302,
            },
        )
        assert moved.json() == {
            "ok": True,
            "action": "set_target",
            "affected": 2,
            "domain_ids": ids,
        }
        again = (await client.get(f"/api/v1/groups/{group['id']}", headers=headers)).json()
        assert again["group"]["target_url"] == "https://new-shop.example"
        sunset = await client.post(
            "/api/v1/domains/bulk",
            headers=headers,
            json={
                "action": "sunset",
                "domain_ids": ids[:1],
                "sunset_config": {"status_code": 410, "sunset_date": "31.12.2026"},
            },
        )
        assert sunset.status_code == 200, sunset.text
        first = (await client.get(f"/api/v1/domains/{ids[0]}", headers=headers)).json()
        assert first["domain"]["sunset_config"]["sunset_date"] == "2026-12-31"
        assert first["domain"]["target_url"] == "https://new-shop.example"

        other = await create_user(runtime)
        foreign = await create_domain(runtime, other)
        refused = await client.post(
            "/api/v1/domains/bulk",
            headers=headers,
            json={"action": "delete", "domain_ids": [ids[0], foreign.id]},
        )
        assert refused.status_code == 404
        assert refused.json()["missing_ids"] == [foreign.id]
        assert (await client.get(f"/api/v1/domains/{ids[0]}", headers=headers)).status_code == 200
        gone = await client.post(
            "/api/v1/domains/bulk",
            headers=headers,
            json={"action": "delete", "group_id": group["id"]},
        )
        assert gone.json()["affected"] == 2
        assert (await client.get("/api/v1/domains", headers=headers)).json()["total"] == 0
