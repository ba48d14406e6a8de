"""`stellwerk servers` and `stellwerk secrets rotate` against the test app on a loopback
port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi import FastAPI
from sqlalchemy import text

from stellwerk.runtime import Runtime
from stellwerk.server.compute import secret_box
from tests.clirun import cli_for
from tests.factories import admin_headers, bearer, create_user, jwt_for
from tests.provider.compute.conftest import TOKEN, Sandbox
from tests.server.factories import create_provider, create_running


async def _cli(app: FastAPI, tmp_path: Path, *args: str) -> Any:
    """A command as an admin, through the API."""
    async with cli_for(app, tmp_path) as cli:
        return await cli.json(*args)


async def test_list_import_action_create(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    tmp_path: Path,
) -> None:
    sandbox = sandboxes["hetzner"]
    provider = await create_provider(client, await admin_headers(runtime), sandbox)
    owner = await create_user(runtime)
    user = bearer(jwt_for(runtime, owner))
    detail = await create_running(client, user, provider)

    servers = ("read:servers", "write:servers")
    async with cli_for(app, tmp_path, owner, servers) as cli:
        listed = await cli.json("servers", "list")
    assert [i["id"] for i in listed] == [detail["id"]]

    async with httpx.AsyncClient(base_url=sandbox.root) as http:
        made = await http.post(
            "/v1/servers",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"name": "legacy-1", "server_type": "cx23", "image": "debian-12"},
        )
    assert made.status_code == 201
    adopted = await _cli(
        app,
        tmp_path,
        "servers",
        "import",
        "--provider",
        provider["id"],
        "--user",
        owner.username,
    )
    assert [i["label"] for i in adopted] == ["legacy-1"]
    again = await _cli(
        app,
        tmp_path,
        "servers",
        "import",
        "--provider",
        provider["id"],
        "--user",
        owner.username,
    )
    assert again == []
    assert (await client.get("/api/vps", headers=user)).json()["total"] == 2

    async with cli_for(app, tmp_path, owner, servers) as cli:
        acted = await cli.json("servers", "action", detail["id"], "reboot")
        assert acted["message"] == "Action reboot initiated successfully"
        created = await cli.json(
            "servers",
            "create",
            "--provider",
            provider["id"],
            "--label",
            "from-the-cli",
            "--type",
            "cx23",
            "--region",
            "nbg1",
            "--image",
            "ubuntu-24.04",
        )
        assert created["label"] == "from-the-cli"
        assert created["status"] == "running"
        assert created["ip_address"]
        unknown = await cli("servers", "action", detail["id"], "rebot")
        assert unknown.exit_code == 1
        assert "did you mean reboot" in unknown.output


async def test_secrets_rotate(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    tmp_path: Path,
) -> None:
    admin = await admin_headers(runtime)
    providers = [await create_provider(client, admin, sandboxes[n]) for n in sorted(sandboxes)]
    box = secret_box(runtime.settings)
    old_key = Fernet(box.key(1))

    result = await _cli(app, tmp_path, "secrets", "rotate")
    assert result == {"success": True, "providers": 3, "generation": 2}

    async with runtime.database.engine.connect() as connection:
        stored = (
            (await connection.execute(text("SELECT api_key_encrypted FROM service_providers")))
            .scalars()
            .all()
        )
    assert len(stored) == 3
    for value in stored:
        assert value.startswith("v2:")
        with pytest.raises(InvalidToken):
            old_key.decrypt(value.split(":", 1)[1].encode())
        assert box.decrypt(value) == TOKEN

    for provider in providers:
        # A key check against the provider with the re-encrypted key, and a fresh catalog.
        name = provider["type"]
        checked = await client.put(
            f"/api/admin/providers/{provider['id']}",
            headers=admin,
            json={"configuration": {"api_url": sandboxes[name].url, "default_region": "x"}},
        )
        assert checked.status_code == 200, checked.text
        path = {"digitalocean": "sizes", "linode": "types", "hetzner": "server-types"}[name]
        listed = await client.get(
            f"/api/vps/{name}/{path}", headers=admin, params={"provider_id": provider["id"]}
        )
        assert listed.status_code == 200
