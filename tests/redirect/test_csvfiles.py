"""CSV import (dry run, apply, idempotent) and exports of domains and hits."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx

from stellwerk.kit.time import utc_now
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_token, create_user
from tests.redirect.factories import create_domain, hit_row, write_hits

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]
CSV = {"Content-Type": "text/csv"}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], text: str, *, apply: bool
) -> httpx.Response:
    return await client.post(
        f"/api/v1/domains/import.csv?dry_run={'false' if apply else 'true'}",
        headers={**headers, **CSV},
        content=text.encode(),
    )


class TestImport:
    async def test_a_thousand_domains_dry_run_apply_and_round_trip(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        lines = ["domain,target_url,redirect_code,include_www,group"]
        lines += [
            f"site-{i}.example,https://t.example/{i},{302 if i % 2 else 301},1,"
            + ("" if i % 2 else "Even")
            for i in range(1000)
        ]
        text = "\n".join(lines) + "\n"
        dry = await _import(client, headers, text, apply=False)
        assert dry.status_code == 200, dry.text
        report = dry.json()
        assert (report["dry_run"], report["created"], report["errors"]) == (True, 1000, 0)
        assert report["groups_created"] == ["Even"]
        assert report["rows"][0] == {
            "row": 2,
            "domain": "site-0.example",
            "action": "create",
            "changes": [],
            "error": None,
        }
        assert (await client.get("/api/v1/domains", headers=headers)).json()["total"] == 0
        assert (await client.get("/api/v1/groups", headers=headers)).json()["groups"] == []

        applied = (await _import(client, headers, text, apply=True)).json()
        assert (applied["created"], applied["errors"]) == (1000, 0)
        listed = (await client.get("/api/v1/domains?per_page=1000", headers=headers)).json()
        assert listed["total"] == 1000
        groups = (await client.get("/api/v1/groups", headers=headers)).json()["groups"]
        assert [(g["name"], g["domain_count"]) for g in groups] == [("Even", 500)]

        exported = await client.get("/api/v1/domains/export.csv", headers=headers)
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"
        rows = _rows(exported.text)
        assert len(rows) == 1000
        assert rows[1]["redirect_code"] == "302"
        assert rows[0]["group"] == "Even"
        again = (await _import(client, headers, exported.text, apply=True)).json()
        assert (again["created"], again["updated"], again["unchanged"], again["errors"]) == (
            0,
            0,
            1000,
            0,
        )
        assert _rows((await client.get("/api/v1/domains/export.csv", headers=headers)).text) == rows

    async def test_rows_are_reported_one_by_one(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        mine = await create_domain(runtime, user, domain="mine.example")
        foreign = await create_domain(runtime, await create_user(runtime), domain="theirs.example")
        text = (
            "domain;target;code;www;sunset_status;sunset_date\n"  # semicolons, the original's names
            f"{mine.domain};https://elsewhere.example;302;1;410;31.12.2026\n"
            f"{foreign.domain};https://x.example;301;1;;\n"
            "not a domain;https://x.example;301;1;;\n"
            "new.example;;301;1;;\n"
            "loop.example;https://www.loop.example/;301;1;;\n"
            "ok.example;https://ok-target.example;308;no;;\n"
            "ok.example;https://ok-target.example;308;no;;\n"
        )
        report = (await _import(client, headers, text, apply=True)).json()
        by_row = {r["row"]: r for r in report["rows"]}
        assert by_row[2]["action"] == "update"
        assert by_row[2]["changes"] == ["redirect_code", "sunset_config", "target_url"]
        assert by_row[3]["error"] == "theirs.example is another account's redirect domain"
        assert by_row[4]["action"] == "error"
        assert by_row[5]["error"] == "Enter the URL visitors go to"
        assert by_row[6]["error"] == "The target URL points back at the domain itself"
        assert by_row[7]["action"] == "create"
        assert by_row[8]["error"] == "the domain appears twice in the file"
        assert (report["created"], report["updated"], report["errors"]) == (1, 1, 5)
        updated = (await client.get(f"/api/v1/domains/{mine.id}", headers=headers)).json()
        assert updated["domain"]["sunset_config"]["sunset_date"] == "2026-12-31"
        created = (await client.get("/api/v1/domains?q=ok.example", headers=headers)).json()
        assert created["domains"][0]["include_www"] == 0
        theirs = await client.get(
            f"/api/v1/domains/{foreign.id}", headers=bearer(await create_token(runtime, user, ALL))
        )
        assert theirs.status_code == 404

    async def test_bad_files_are_refused_whole(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        no_column = await _import(client, headers, "name\nx.example\n", apply=True)
        assert (no_column.status_code, no_column.json()["code"]) == (400, "invalid_csv")
        binary = await client.post(
            "/api/v1/domains/import.csv", headers={**headers, **CSV}, content=b"\xff\xfe\x00"
        )
        assert binary.status_code == 400
        read_only = bearer(await create_token(runtime, user, ["read:domains"]))
        refused = await _import(client, read_only, "domain\nx.example\n", apply=False)
        assert refused.status_code == 403


class TestHitExport:
    async def test_hits_by_date_range_with_hashes_only(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user)
        foreign = await create_domain(runtime, await create_user(runtime))
        now = utc_now()
        week_ago = now - dt.timedelta(days=7)
        await write_hits(
            runtime,
            [
                hit_row(record.id, ts=int(now.timestamp() * 1000), ip_hash="a" * 64),
                hit_row(record.id, ts=int(week_ago.timestamp() * 1000), ip_hash="b" * 64),
                hit_row(foreign.id, ts=int(now.timestamp() * 1000), ip_hash="c" * 64),
            ],
        )
        everything = _rows((await client.get("/api/v1/hits/export.csv", headers=headers)).text)
        assert sorted(r["ip_hash"] for r in everything) == ["a" * 64, "b" * 64]
        assert "ip" not in everything[0]
        assert "ip_address" not in everything[0]
        assert everything[0]["browser"] == ""
        assert everything[0]["is_bot"] == "0"
        today = now.date().isoformat()
        recent = await client.get(
            f"/api/v1/hits/export.csv?from={today}&to={today}", headers=headers
        )
        assert [r["ip_hash"] for r in _rows(recent.text)] == ["a" * 64]
        backwards = await client.get(
            f"/api/v1/hits/export.csv?from={today}&to=2020-01-01", headers=headers
        )
        assert backwards.status_code == 422
        other = await client.get(f"/api/v1/hits/export.csv?domain_id={foreign.id}", headers=headers)
        assert other.status_code == 404
