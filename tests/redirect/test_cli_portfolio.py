"""`stellwerk redirect domains update|check|qr|import|export`, `groups` and `hits export`,
run in-process (each command opens its own database connection, as from a shell)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from stellwerk.cli.main import app as cli
from stellwerk.config import Settings
from stellwerk.runtime import Runtime
from tests.factories import create_admin
from tests.loopback import loopback_server
from tests.process import base_env
from tests.redirect.factories import create_domain


async def _run(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_portfolio_commands(settings: Settings, runtime: Runtime, tmp_path: Path) -> None:
    admin = await create_admin(runtime, username="operator")
    env = base_env(tmp_path / "cli", settings.resolved_database_url)
    env["STELLWERK_SECRET_KEY"] = "test-secret-key-not-for-production"
    env["STELLWERK_REDIRECT_TARGET_CHECK_PRIVATE"] = "true"  # the target below is on loopback
    group = json.loads(
        (
            await _run(env, "redirect", "groups", "add", "Brands", "--user", "operator", "--json")
        ).stdout
    )
    record = await create_domain(runtime, admin, domain="cli-edit.example")

    updated = await _run(
        env,
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
    nothing = await _run(env, "redirect", "domains", "update", str(record.id))
    assert nothing.exit_code == 1
    assert "Nothing to change" in nothing.output
    loop = await _run(
        env, "redirect", "domains", "update", str(record.id), "--target", "https://cli-edit.example"
    )
    assert loop.exit_code == 1
    assert "back at the domain" in loop.output
    listed = json.loads((await _run(env, "redirect", "groups", "list", "--json")).stdout)
    assert [(g["name"], g["domain_count"]) for g in listed] == [("Brands", 1)]

    exported = await _run(env, "redirect", "domains", "export", "--output", str(tmp_path / "d.csv"))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text())))
    assert [(r["domain"], r["group"], r["sunset_status"]) for r in rows] == [
        ("cli-edit.example", "Brands", "200")
    ]
    (tmp_path / "new.csv").write_text("domain,target_url\ncli-new.example,https://t.example\n")
    dry = await _run(
        env,
        "redirect",
        "domains",
        "import",
        str(tmp_path / "new.csv"),
        "--user",
        "operator",
        "--json",
    )
    assert json.loads(dry.stdout)["created"] == 1
    assert json.loads(dry.stdout)["dry_run"]
    applied = await _run(
        env,
        "redirect",
        "domains",
        "import",
        str(tmp_path / "new.csv"),
        "--apply",
        "--user",
        "operator",
    )
    assert applied.exit_code == 0, applied.output
    again = await _run(
        env,
        "redirect",
        "domains",
        "import",
        str(tmp_path / "d.csv"),
        "--user",
        "operator",
        "--json",
    )
    assert json.loads(again.stdout)["unchanged"] == 1
    names = [
        d["domain"]
        for d in json.loads((await _run(env, "redirect", "domains", "list", "--json")).stdout)
    ]
    assert sorted(names) == ["cli-edit.example", "cli-new.example"]

    qr = await _run(env, "redirect", "domains", "qr", str(record.id), "-o", str(tmp_path / "q.png"))
    assert qr.exit_code == 0
    assert (tmp_path / "q.png").read_bytes().startswith(b"\x89PNG")
    with loopback_server(lambda path: (500, {}, b"down")) as site:
        await _run(env, "redirect", "domains", "update", str(record.id), "--target", f"{site}/x")
        checked = await _run(env, "redirect", "domains", "check", str(record.id))
    assert checked.exit_code == 1
    assert "failing: HTTP 500" in checked.output
    failing = json.loads(
        (await _run(env, "redirect", "domains", "list", "--failing", "--json")).stdout
    )
    assert [d["domain"] for d in failing] == ["cli-edit.example"]
    hits = await _run(env, "redirect", "hits", "export", "--from", "2026-01-01")
    assert hits.exit_code == 0
    assert hits.stdout.startswith("id,domain_id,host,time,ip_hash")
    gone = await _run(env, "redirect", "groups", "delete", str(group["id"]), "--json")
    assert json.loads(gone.stdout)["domains_ungrouped"] == 1
