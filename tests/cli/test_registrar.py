"""`stellwerk domains` through the server's API, against the INWX sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI

from stellwerk.runtime import Runtime
from tests.clirun import cli_for
from tests.factories import admin_headers
from tests.provider.running import Sandboxes, provider_sandboxes


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime) -> AsyncIterator[Sandboxes]:
    async with provider_sandboxes() as running:
        yield running


async def test_check_register_list_show(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: Sandboxes,
    tmp_path: Path,
) -> None:
    contact = await client.post(
        "/api/registrar/contacts",
        json={"provider_contact_id": "12345"},
        headers=await admin_headers(runtime),
    )
    assert contact.status_code == 201, contact.text
    async with cli_for(app, tmp_path) as cli:
        checked = await cli.json("domains", "check", "demo-shop.de", "example.com")
        assert [c["available"] for c in checked] == [True, False]
        table = await cli("domains", "check", "demo-shop.de")
        assert "4.90 EUR" in table.stdout

        registered = await cli.json("domains", "register", "demo-shop.de")
        assert (registered["name"], registered["status"]) == ("demo-shop.de", "active")
        assert list(sandboxes.inwx_state["domains"]) == ["demo-shop.de"]

        listed = await cli.json("domains", "list", "--status", "active")
        assert [d["name"] for d in listed] == ["demo-shop.de"]
        shown = await cli("domains", "show", "demo-shop.de")
        assert "demo-shop.de: active" in shown.output
        missing = await cli("domains", "show", "other-shop.de")
        assert missing.exit_code == 1
        assert missing.output.startswith("error: ")
        wrong = await cli("domains", "list", "--status", "activ")
        assert "did you mean active?" in wrong.output
