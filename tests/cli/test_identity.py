"""`stellwerk token` and `stellwerk apikey` through the server's API; `stellwerk admin create`
on the database, without a server."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from typer.testing import CliRunner

from stellwerk.cli.main import app as cli_app
from stellwerk.runtime import Runtime
from tests.clirun import cli_for
from tests.factories import create_user


async def test_tokens_and_the_api_key(app: FastAPI, runtime: Runtime, tmp_path: Path) -> None:
    other = await create_user(runtime, username="someone")
    async with cli_for(app, tmp_path) as cli:
        typo = await cli("token", "create", "--scope", "read:domain")
        assert typo.exit_code == 1
        assert "did you mean read:domains" in typo.output
        created = await cli.json("token", "create", "--scope", "read:domains", "--name", "ci")
        assert created["token"].startswith("nrx_")
        assert created["scopes"] == ["read:domains"]
        listed = await cli.json("token", "list")
        assert {t["name"] for t in listed} == {"cli", "ci"}
        assert created["token"] not in json.dumps(listed)
        assert await cli.json("token", "list", "--user", other.username) == []
        revoked = await cli("token", "revoke", str(created["id"]))
        assert revoked.exit_code == 0, revoked.output
        assert f"Revoked token {created['id']} (ci)" in revoked.output
        rotated = await cli.json("apikey", "rotate")
        assert rotated["api_key"].startswith("AF-")


def test_admin_create_needs_no_server(tmp_path: Path) -> None:
    runner = CliRunner()
    assert "needs no running server" in " ".join(
        runner.invoke(cli_app, ["admin", "create", "--help"], env={"COLUMNS": "200"}).output.split()
    )
    created = runner.invoke(
        cli_app,
        ["admin", "create", "-u", "first", "--password-stdin", "--json"],
        input="first-admin-password\n",
        env={"STELLWERK_DATA_DIR": str(tmp_path / "var"), "STELLWERK_URL": "http://127.0.0.1:9"},
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["role"] == "admin"
