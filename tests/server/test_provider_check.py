"""Checking providers from the API, the web UI and `stellwerk providers check`, with real-mode
settings pointing at strict sandboxes on loopback (admins only; nothing is created)."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.registrar.inwx.sandbox import SANDBOX_2FA_SECRET
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server
from stellwerk.runtime import Runtime
from tests.clirun import cli_for
from tests.factories import admin_headers, bearer, create_admin, create_user, jwt_for
from tests.provider.compute.conftest import Sandbox
from tests.server.factories import create_provider
from tests.web.test_router import log_in


@pytest_asyncio.fixture
async def configured(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, RunningSandbox]]:
    """INWX (with 2FA) and Coolify configured as in production, at sandboxes on loopback; the
    Coolify token lacks `deploy` and `read:sensitive`."""
    inwx = await start_server(inwx_app(None), name="inwx")
    coolify = await start_server(coolify_app(None), name="coolify", suffix="/api/v1")
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{coolify.port}/__sandbox__/tokens",
            json={"token": "sandbox-limited", "abilities": ["read", "write"]},
        )
    values: dict[str, Any] = {
        "inwx_username": "sandbox-ops-2fa",
        "inwx_password": SecretStr("sandbox-secret"),
        "inwx_2fa_secret": SecretStr(SANDBOX_2FA_SECRET),
        "inwx_api_url": inwx.url,
        "coolify_api_url": f"http://127.0.0.1:{coolify.port}",
        "coolify_api_token": SecretStr("sandbox-limited"),
    }
    for name, value in values.items():
        monkeypatch.setattr(runtime.settings, name, value)
    yield {"inwx": inwx, "coolify": coolify}
    await coolify.stop()
    await inwx.stop()


async def test_a_compute_provider_is_checked_with_its_stored_key(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, Sandbox]
) -> None:
    admin = await admin_headers(runtime)
    provider = await create_provider(client, admin, sandboxes["linode"])
    response = await client.post(f"/api/admin/providers/{provider['id']}/check", headers=admin)
    assert response.status_code == 200, response.text
    check = response.json()["check"]
    assert check["verdict"] == "ok"
    assert check["provider"] == "linode"
    assert check["label"] == "Linode"
    assert check["rate_limit"]["limit"]
    user = bearer(jwt_for(runtime, await create_user(runtime)))
    forbidden = await client.post(f"/api/admin/providers/{provider['id']}/check", headers=user)
    assert forbidden.status_code == 403


async def test_integrations_are_listed_and_checked(
    client: httpx.AsyncClient, runtime: Runtime, configured: dict[str, RunningSandbox]
) -> None:
    admin = await admin_headers(runtime)
    listed = (await client.get("/api/admin/providers/integrations", headers=admin)).json()
    by_name = {i["name"]: i for i in listed["integrations"]}
    assert by_name["coolify"]["configured"] is True
    assert by_name["coolify"]["url"] == configured["coolify"].url
    assert by_name["powerdns"]["configured"] is False

    inwx = (await client.post("/api/admin/providers/integrations/inwx/check", headers=admin)).json()
    assert inwx["check"]["verdict"] == "ok"
    assert "2FA is on" in inwx["check"]["findings"][0]["message"]
    coolify = (
        await client.post("/api/admin/providers/integrations/coolify/check", headers=admin)
    ).json()["check"]
    assert coolify["verdict"] == "failed"
    assert any("deploy, read:sensitive" in f["message"] for f in coolify["findings"])
    unknown = await client.post("/api/admin/providers/integrations/nope/check", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["success"] is False


async def test_the_providers_page_has_a_check_per_provider(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    configured: dict[str, RunningSandbox],
) -> None:
    provider = await create_provider(client, await admin_headers(runtime), sandboxes["hetzner"])
    await create_admin(runtime, username="checker")
    csrf = await log_in(client, "checker")
    page = await client.get("/ui/providers")
    assert f'action="/ui/providers/{provider["id"]}/check"' in page.text
    assert 'action="/ui/providers/integrations/coolify/check"' in page.text
    checked = await client.post(f"/ui/providers/{provider['id']}/check", data={"csrf_token": csrf})
    assert checked.status_code == 200
    assert "The token works" in html.unescape(checked.text)
    coolify = await client.post(
        "/ui/providers/integrations/coolify/check", data={"csrf_token": csrf}
    )
    text = html.unescape(coolify.text)
    assert "lacks the abilities deploy, read:sensitive" in text
    assert "COOLIFY_API_TOKEN" in text


async def test_the_command_names_what_to_fix(
    app: FastAPI,
    runtime: Runtime,
    configured: dict[str, RunningSandbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's settings count: INWX is configured there with a wrong password.
    monkeypatch.setattr(runtime.settings, "inwx_username", "sandbox-ops")
    monkeypatch.setattr(runtime.settings, "inwx_password", SecretStr("wrong-password"))
    monkeypatch.setattr(runtime.settings, "inwx_2fa_secret", None)
    async with cli_for(app, tmp_path) as cli:
        result = await cli("providers", "check", "--json")
        table = await cli("providers", "check")
    assert result.exit_code == 1, result.output
    reports = {r["provider"]: r for r in json.loads(result.stdout)}
    assert reports["inwx"]["verdict"] == "failed"
    assert "refused the login" in reports["inwx"]["findings"][0]["message"]
    coolify = reports["coolify"]["findings"]
    assert any("deploy, read:sensitive" in f["message"] for f in coolify)
    assert reports["powerdns"]["verdict"] == "not_configured"
    assert table.exit_code == 1
    words = " ".join(
        part for line in table.stdout.splitlines() for part in line.split("│")[3:4]
    ).split()
    assert "read:sensitive:" in words or "read:sensitive" in words
