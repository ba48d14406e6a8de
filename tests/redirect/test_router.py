"""The documented `/api/v1` surface (nexredirect-api.md), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest

from stellwerk.kit.time import utc_now
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for
from tests.redirect.factories import create_domain, hit_row, unique_domain, write_hits

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]


@pytest.fixture
def public_ip(runtime: Runtime) -> Iterator[None]:
    settings = runtime.settings
    before = (settings.public_ipv4, settings.public_ipv6, settings.api_v1_sunset)
    settings.public_ipv4 = "203.0.113.42"
    settings.public_ipv6 = None
    yield
    settings.public_ipv4, settings.public_ipv6, settings.api_v1_sunset = before


async def token_headers(runtime: Runtime, scopes: list[str] | None = None) -> dict[str, str]:
    user = await create_user(runtime)
    return bearer(await create_token(runtime, user, scopes or ALL))


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class TestPublicEndpoints:
    async def test_health_needs_no_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/health")
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True
        assert abs(body["ts"] - ms(utc_now())) < 60_000

    async def test_version_offline_reports_current(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/api/v1/version")).json()
        assert body == {
            "current": body["current"],
            "latest": body["current"],
            "update_available": False,
            "release_url": None,
            "auto_update": False,
        }

    async def test_sunset_header_when_configured(
        self, client: httpx.AsyncClient, runtime: Runtime, public_ip: None
    ) -> None:
        assert "sunset" not in (await client.get("/api/v1/health")).headers
        runtime.settings.api_v1_sunset = "Wed, 31 Dec 2031 23:59:59 GMT"
        response = await client.get("/api/v1/health")
        assert response.headers["sunset"] == "Wed, 31 Dec 2031 23:59:59 GMT"


class TestAuth:
    async def test_missing_scope_is_exactly_the_documented_body(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await token_headers(runtime, ["read:hits"])
        response = await client.get("/api/v1/domains", headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "error": "forbidden",
            "code": "missing_scope",
            "required": "read:domains",
        }

    @pytest.mark.parametrize(
        ("method", "path", "scope"),
        [
            ("POST", "/api/v1/domains", "write:domains"),
            ("DELETE", "/api/v1/domains/1", "write:domains"),
            ("GET", "/api/v1/domains/1", "read:domains"),
            ("GET", "/api/v1/domains/1/stats", "read:analytics"),
            ("GET", "/api/v1/analytics/summary", "read:analytics"),
            ("GET", "/api/v1/hits", "read:hits"),
        ],
    )
    async def test_each_endpoint_requires_its_scope(
        self, client: httpx.AsyncClient, runtime: Runtime, method: str, path: str, scope: str
    ) -> None:
        others = [s for s in ALL if s != scope]
        headers = await token_headers(runtime, others)
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 403
        assert response.json()["required"] == scope

    async def test_no_token_is_401_in_the_redirect_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/domains")
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "unauthorized"
        assert "code" in body

    async def test_bad_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/domains", headers=bearer("nrx_" + "0" * 64))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


class TestDomains:
    async def test_create_returns_201_with_dns_records(
        self, client: httpx.AsyncClient, runtime: Runtime, public_ip: None
    ) -> None:
        headers = await token_headers(runtime)
        response = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={
                "domain": "Alt-Firma.DE",
                "target_url": "https://www.firma.de",
                "redirect_code": 301,
                "preserve_path": True,
                "include_www": True,
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        domain = body["domain"]
        assert domain["domain"] == "alt-firma.de"
        assert domain["status"] == "pending"
        assert domain["preserve_path"] == 1
        assert domain["include_www"] == 1
        assert domain["redirect_code"] == 301
        assert domain["total_hits"] == 0
        assert domain["last_hit"] is None
        assert body["dns_records"] == [
            {"type": "A", "name": "alt-firma.de", "value": "203.0.113.42"},
            {"type": "A", "name": "www.alt-firma.de", "value": "203.0.113.42"},
        ]

    async def test_document_example_minimal_body_and_aaaa(
        self, client: httpx.AsyncClient, runtime: Runtime, public_ip: None
    ) -> None:
        runtime.settings.public_ipv6 = "2001:db8::42"
        headers = await token_headers(runtime)
        response = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={"domain": "shop.alt.de", "target_url": "https://shop.firma.de"},
        )
        assert response.status_code == 201
        records = response.json()["dns_records"]
        assert {"type": "AAAA", "name": "www.shop.alt.de", "value": "2001:db8::42"} in records
        assert len(records) == 4
        domain = response.json()["domain"]
        assert (domain["redirect_code"], domain["preserve_path"], domain["include_www"]) == (
            301,
            1,
            1,
        )

    @pytest.mark.parametrize(
        ("value", "expected"), [(True, 1), (False, 0), (1, 1), (0, 0), ("true", 1), ("0", 0)]
    )
    async def test_booleans_accepted_as_documented(
        self, client: httpx.AsyncClient, runtime: Runtime, value: object, expected: int
    ) -> None:
        headers = await token_headers(runtime)
        response = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={
                "domain": unique_domain(),
                "target_url": "https://t.example",
                "preserve_path": value,
                "include_www": value,
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["domain"]["preserve_path"] == expected
        assert response.json()["domain"]["include_www"] == expected

    async def test_idn_becomes_punycode(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await token_headers(runtime)
        response = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={"domain": "MÜLLER.de", "target_url": "https://t.example"},
        )
        assert response.status_code == 201
        assert response.json()["domain"]["domain"] == "xn--mller-kva.de"

    @pytest.mark.parametrize(
        ("body", "field", "code"),
        [
            (
                {"domain": "203.0.113.5", "target_url": "https://t.example"},
                "domain",
                "ip_not_allowed",
            ),
            ({"domain": "[2001:db8::1]", "target_url": "https://t.example"}, "domain", None),
            ({"domain": "localhost", "target_url": "https://t.example"}, "domain", None),
            ({"domain": "https://a.example/x", "target_url": "https://t.example"}, "domain", None),
            ({"domain": "bad_label!.example", "target_url": "https://t.example"}, "domain", None),
            ({"domain": "a.example", "target_url": "/relative"}, "target_url", None),
            ({"domain": "a.example", "target_url": "ftp://t.example"}, "target_url", None),
            ({"domain": "a.example", "target_url": "javascript:alert(1)"}, "target_url", None),
            ({"domain": "a.example", "target_url": "https://u:p@t.example"}, "target_url", None),
            (
                {"domain": "a.example", "target_url": "https://t.example/\r\nX: y"},
                "target_url",
                None,
            ),
            (
                {"domain": "a.example", "target_url": "https://www.a.example/"},
                "target_url",
                "redirect_loop",
            ),
            (
                {"domain": "a.example", "target_url": "https://t.example", "redirect_code": 303},
                "redirect_code",
                None,
            ),
            (
                {"domain": "a.example", "target_url": "https://t.example", "preserve_path": "yes"},
                "preserve_path",
                None,
            ),
            ({"target_url": "https://t.example"}, "domain", None),
        ],
    )
    async def test_invalid_input_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        body: dict[str, object],
        field: str,
        code: str | None,
    ) -> None:
        headers = await token_headers(runtime)
        response = await client.post("/api/v1/domains", headers=headers, json=body)
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["error"] == "validation_error"
        if code:
            assert error["code"] == code
        assert field in response.text
        listed = (await client.get("/api/v1/domains", headers=headers)).json()
        assert listed["domains"] == []

    async def test_duplicates_and_www_aliases_conflict(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await token_headers(runtime)
        first = {"domain": "dupe.example", "target_url": "https://t.example"}
        assert (
            await client.post("/api/v1/domains", headers=headers, json=first)
        ).status_code == 201
        for name in ("dupe.example", "DUPE.example.", "www.dupe.example"):
            response = await client.post(
                "/api/v1/domains", headers=headers, json={**first, "domain": name}
            )
            assert response.status_code == 409, name
            assert response.json()["code"] == "domain_exists"
        other_user = await token_headers(runtime)
        response = await client.post("/api/v1/domains", headers=other_user, json=first)
        assert response.status_code == 409

    async def test_list_get_delete_and_ownership(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        owner = await create_user(runtime)
        owner_headers = bearer(await create_token(runtime, owner, ALL))
        stranger_headers = await token_headers(runtime)
        admin = await create_admin(runtime)
        admin_headers = bearer(jwt_for(runtime, admin))
        created = await client.post(
            "/api/v1/domains",
            headers=owner_headers,
            json={"domain": "mine.example", "target_url": "https://t.example"},
        )
        domain_id = created.json()["domain"]["id"]

        listed = (await client.get("/api/v1/domains", headers=owner_headers)).json()
        assert [d["domain"] for d in listed["domains"]] == ["mine.example"]
        assert listed["total"] == 1
        assert (await client.get("/api/v1/domains", headers=stranger_headers)).json()[
            "domains"
        ] == []
        assert (
            len((await client.get("/api/v1/domains", headers=admin_headers)).json()["domains"]) == 1
        )

        got = await client.get(f"/api/v1/domains/{domain_id}", headers=owner_headers)
        assert got.status_code == 200
        assert got.json()["domain"]["id"] == domain_id
        missing = await client.get(f"/api/v1/domains/{domain_id}", headers=stranger_headers)
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
        assert (
            await client.delete(f"/api/v1/domains/{domain_id}", headers=stranger_headers)
        ).status_code == 404

        deleted = await client.delete(f"/api/v1/domains/{domain_id}", headers=owner_headers)
        assert deleted.status_code == 200
        assert deleted.json() == {"ok": True, "id": domain_id}
        assert (
            await client.get(f"/api/v1/domains/{domain_id}", headers=owner_headers)
        ).status_code == 404
        audit = await client.get("/api/admin/audit", headers=admin_headers)
        actions = [e["action"] for e in audit.json()["items"]]
        assert "redirect_domain.create" in actions
        assert "redirect_domain.delete" in actions

    async def test_bad_path_parameter_uses_the_envelope(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await token_headers(runtime)
        # An id of the wrong form names no domain: 404, like an id that exists nowhere.
        response = await client.get("/api/v1/domains/abc", headers=headers)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        response = await client.get("/api/v1/nothing", headers=headers)
        assert response.status_code == 404
        assert set(response.json()) >= {"error", "code"}


class TestStatsAndHits:
    async def test_stats_daily_series_zero_filled_with_countries(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user)
        now = utc_now()
        two_days_ago = now - dt.timedelta(days=2)
        await write_hits(
            runtime,
            [
                hit_row(record.id, ts=ms(now), country="DE", ip_hash="a" * 64),
                hit_row(record.id, ts=ms(now), country="DE", ip_hash="a" * 64),
                hit_row(record.id, ts=ms(now), country="AT", ip_hash="b" * 64),
                hit_row(record.id, ts=ms(two_days_ago), country=None, ip_hash="c" * 64),
                hit_row(record.id, ts=ms(now - dt.timedelta(days=40)), ip_hash="d" * 64),
            ],
        )
        response = await client.get(f"/api/v1/domains/{record.id}/stats?days=7", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["domain_id"] == record.id
        assert body["days"] == 7
        assert body["total"] == 4
        assert len(body["daily"]) == 7
        assert body["daily"][-1] == {
            "day": now.date().isoformat(),
            "hits": 3,
            "visitors": 2,
            "bots": 0,
        }
        assert body["daily"][-3] == {
            "day": two_days_ago.date().isoformat(),
            "hits": 1,
            "visitors": 1,
            "bots": 0,
        }
        assert body["daily"][0]["hits"] == 0
        assert body["by_country"] == [
            {"country": "DE", "hits": 2},
            {"country": "AT", "hits": 1},
            {"country": None, "hits": 1},
        ]
        default = (await client.get(f"/api/v1/domains/{record.id}/stats", headers=headers)).json()
        assert default["days"] == 30
        assert len(default["daily"]) == 30
        bad = await client.get(f"/api/v1/domains/{record.id}/stats?days=0", headers=headers)
        assert bad.status_code == 422
        domain = (await client.get(f"/api/v1/domains/{record.id}", headers=headers)).json()
        assert domain["domain"]["total_hits"] == 5
        assert domain["domain"]["last_hit"] == ms(now)

    async def test_summary_lists_zero_hit_domains_for_the_dead_domain_example(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        busy = await create_domain(runtime, user, domain="busy.example")
        dead = await create_domain(runtime, user, domain="dead.example")
        other_user = await create_user(runtime)
        foreign = await create_domain(runtime, other_user, domain="foreign.example")
        now = ms(utc_now())
        await write_hits(
            runtime,
            [hit_row(busy.id, ts=now), hit_row(busy.id, ts=now), hit_row(foreign.id, ts=now)],
        )
        body = (await client.get("/api/v1/analytics/summary?days=90", headers=headers)).json()
        assert body["days"] == 90
        assert body["total"] == 2
        assert len(body["daily"]) == 90
        assert body["top"] == [
            {"id": busy.id, "domain": "busy.example", "hits": 2, "bots": 0},
            {"id": dead.id, "domain": "dead.example", "hits": 0, "bots": 0},
        ]
        # jq '.top | map(select(.hits == 0))'
        assert [t for t in body["top"] if t["hits"] == 0] == [
            {"id": dead.id, "domain": "dead.example", "hits": 0, "bots": 0}
        ]
        assert body["by_country"] == [{"country": "DE", "hits": 2}]
        admin = bearer(jwt_for(runtime, await create_admin(runtime)))
        everyone = (await client.get("/api/v1/analytics/summary", headers=admin)).json()
        assert everyone["by_country"] == [{"country": "DE", "hits": 3}]
        assert len(everyone["top"]) == 3
        await client.delete(f"/api/v1/domains/{busy.id}", headers=headers)
        body = (await client.get("/api/v1/analytics/summary?days=90", headers=headers)).json()
        assert body["by_country"] == []
        assert body["total"] == 0

    async def test_hits_newest_first_with_cursor_and_no_ip(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user)
        other = await create_domain(runtime, user)
        stranger = await create_domain(runtime, await create_user(runtime))
        now = ms(utc_now())
        await write_hits(
            runtime,
            [hit_row(record.id, ts=now + i, path=f"/p{i}") for i in range(5)]
            + [hit_row(other.id, ts=now), hit_row(stranger.id, ts=now), hit_row(None, ts=now)],
        )
        first = await client.get(f"/api/v1/hits?domain_id={record.id}&limit=3", headers=headers)
        assert first.status_code == 200
        body = first.json()
        assert [h["path"] for h in body["hits"]] == ["/p4", "/p3", "/p2"]
        hit = body["hits"][0]
        assert set(hit) >= {
            "id",
            "domain_id",
            "ts",
            "ip_hash",
            "country",
            "user_agent",
            "referer",
            "path",
        }
        assert re.fullmatch(r"[0-9a-f]{64}", hit["ip_hash"])
        cursor = body["next_cursor"]
        second = await client.get(
            f"/api/v1/hits?domain_id={record.id}&limit=3&cursor={cursor}", headers=headers
        )
        assert [h["path"] for h in second.json()["hits"]] == ["/p1", "/p0"]
        assert second.json()["next_cursor"] is None

        mine = (await client.get("/api/v1/hits", headers=headers)).json()["hits"]
        assert {h["domain_id"] for h in mine} == {record.id, other.id}
        forbidden = await client.get(f"/api/v1/hits?domain_id={stranger.id}", headers=headers)
        assert forbidden.status_code == 404
        bad = await client.get("/api/v1/hits?limit=5000", headers=headers)
        assert bad.status_code == 422

    async def test_deleting_a_domain_removes_its_hits_and_late_hits_become_orphans(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await create_admin(runtime)
        headers = bearer(jwt_for(runtime, admin))
        record = await create_domain(runtime, admin)
        await write_hits(runtime, [hit_row(record.id, ts=ms(utc_now()))])
        assert (
            await client.delete(f"/api/v1/domains/{record.id}", headers=headers)
        ).status_code == 200
        await write_hits(runtime, [hit_row(record.id, ts=ms(utc_now()), path="/late")])
        hits = (await client.get("/api/v1/hits", headers=headers)).json()["hits"]
        assert [(h["domain_id"], h["path"]) for h in hits] == [(None, "/late")]
