"""`stellwerk redirect domains add|list|delete|update|check|qr|import|export`, `groups`,
`hits export` and `caddy-config`, run in-process against the test app on a loopback port."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from stellwerk.runtime import Runtime
from tests.clirun import Cli, cli_for
from tests.factories import create_admin
from tests.loopback import loopback_server
from tests.redirect.factories import create_domain


@asynccontextmanager
async def _as_operator(app: FastAPI, tmp_path: Path) -> AsyncIterator[tuple[Cli, object]]:
    runtime: Runtime = app.state.runtime
    admin = await create_admin(runtime, username="operator")
    async with cli_for(app, tmp_path, admin) as cli:
        yield cli, admin


async def test_domain_commands_with_json(
    app: FastAPI, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's setting counts, not the CLI's environment.
    monkeypatch.setattr(runtime.settings, "public_ipv4", "203.0.113.42")
    monkeypatch.setenv("STELLWERK_PUBLIC_IPV4", "198.51.100.9")
    async with _as_operator(app, tmp_path) as (cli, _):
        body = await cli.json(
            "redirect", "domains", "add", "cli-alt.example", "--target", "https://t.example",
            "--code", "302", "--no-www",
        )  # fmt: skip
        assert body["domain"]["redirect_code"] == 302
        assert body["dns_records"] == [
            {"type": "A", "name": "cli-alt.example", "value": "203.0.113.42"}
        ]
        listed = await cli.json("redirect", "domains", "list")
        assert [d["domain"] for d in listed] == ["cli-alt.example"]
        bad = await cli("redirect", "domains", "add", "10.0.0.1", "--target", "https://t.example")
        assert bad.exit_code == 1
        assert "IP address" in bad.output
        deleted = await cli.json("redirect", "domains", "delete", str(body["domain"]["id"]))
        assert deleted["ok"] is True
        caddy = await cli("redirect", "caddy-config")
        assert "on_demand" in caddy.stdout
        assert "/api/redirect/tls-ask" in caddy.stdout


async def test_portfolio_commands(
    app: FastAPI, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The target below is on loopback.
    monkeypatch.setattr(runtime.settings, "redirect_target_check_private", True)
    async with _as_operator(app, tmp_path) as (cli, admin):
        await _portfolio(cli, admin, runtime, tmp_path)


async def _portfolio(cli: Cli, admin: object, runtime: Runtime, tmp_path: Path) -> None:
    group = json.loads((await cli("redirect", "groups", "add", "Brands", "--json")).stdout)
    record = await create_domain(runtime, admin, domain="cli-edit.example")  # type: ignore[arg-type]

    updated = await cli(
        "redirect",
        "domains",
        "update",
        str(record.id),
        "--target",
        "https://n.example",
        "--no-www",
        "--group",
        "Brands",
        "--sunset",
        "200",
        "--sunset-date",
        "2027-05-01",
        "--json",
    )
    assert updated.exit_code == 0, updated.output
    body = json.loads(updated.stdout)
    assert body["changed"] == ["group_id", "include_www", "sunset_config", "target_url"]
    assert body["domain"]["group_id"] == group["id"]
    assert body["domain"]["sunset_config"]["status_code"] == 200
    nothing = await cli("redirect", "domains", "update", str(record.id))
    assert nothing.exit_code == 1
    assert "Nothing to change" in nothing.output
    loop = await cli(
        "redirect", "domains", "update", str(record.id), "--target", "https://cli-edit.example"
    )
    assert loop.exit_code == 1
    assert "back at the domain" in loop.output
    listed = json.loads((await cli("redirect", "groups", "list", "--json")).stdout)
    assert [(g["name"], g["domain_count"]) for g in listed] == [("Brands", 1)]

    exported = await cli("redirect", "domains", "export", "--output", str(tmp_path / "d.csv"))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text())))
    assert [(r["domain"], r["group"], r["sunset_status"]) for r in rows] == [
        ("cli-edit.example", "Brands", "200")
    ]
    (tmp_path / "new.csv").write_text("domain,target_url\ncli-new.example,https://t.example\n")
    dry = await cli(
        "redirect",
        "domains",
        "import",
        str(tmp_path / "new.csv"),
        "--json",
    )
    assert json.loads(dry.stdout)["created"] == 1
    assert json.loads(dry.stdout)["dry_run"]
    applied = await cli(
        "redirect",
        "domains",
        "import",
        str(tmp_path / "new.csv"),
        "--apply",
    )
    assert applied.exit_code == 0, applied.output
    again = await cli(
        "redirect",
        "domains",
        "import",
        str(tmp_path / "d.csv"),
        "--json",
    )
    assert json.loads(again.stdout)["unchanged"] == 1
    names = [
        d["domain"] for d in json.loads((await cli("redirect", "domains", "list", "--json")).stdout)
    ]
    assert sorted(names) == ["cli-edit.example", "cli-new.example"]

    qr = await cli("redirect", "domains", "qr", str(record.id), "-o", str(tmp_path / "q.png"))
    assert qr.exit_code == 0
    assert (tmp_path / "q.png").read_bytes().startswith(b"\x89PNG")
    with loopback_server(lambda path: (500, {}, b"down")) as site:
        await cli("redirect", "domains", "update", str(record.id), "--target", f"{site}/x")
        checked = await cli("redirect", "domains", "check", str(record.id))
    assert checked.exit_code == 1
    assert "failing: HTTP 500" in checked.output
    failing = json.loads((await cli("redirect", "domains", "list", "--failing", "--json")).stdout)
    assert [d["domain"] for d in failing] == ["cli-edit.example"]
    hits = await cli("redirect", "hits", "export", "--from", "2026-01-01")
    assert hits.exit_code == 0
    assert hits.stdout.startswith("id,domain_id,host,time,ip_hash")
    gone = await cli("redirect", "groups", "delete", str(group["id"]), "--json")
    assert json.loads(gone.stdout)["domains_ungrouped"] == 1
