"""`stellwerk reconcile` against the test app and the compute sandboxes: it reports servers
made behind Stellwerk's back and servers gone from the provider, and exits 1 for them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from stellwerk.runtime import Runtime
from tests.clirun import cli_for
from tests.factories import admin_headers, bearer, create_user, jwt_for
from tests.provider.compute.conftest import TOKEN, Sandbox
from tests.server.factories import create_provider, create_running


async def _reconcile(app: FastAPI, tmp_path: Path, *args: str) -> tuple[int, str]:
    async with cli_for(app, tmp_path) as cli:
        result = await cli("reconcile", *args)
    return result.exit_code, result.stdout


async def test_reports_orphaned_and_missing_servers(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: dict[str, Sandbox],
    tmp_path: Path,
) -> None:
    sandbox = sandboxes["hetzner"]
    provider = await create_provider(client, await admin_headers(runtime), sandbox)
    user = bearer(jwt_for(runtime, await create_user(runtime)))
    kept = await create_running(client, user, provider)
    gone = await create_running(client, user, provider, name="gone-server")

    code, output = await _reconcile(app, tmp_path, "--json")
    report: dict[str, Any] = json.loads(output)
    assert code == 0, report
    assert report["matches"] is True
    assert report["checked"]["servers"] == {"Hetzner (hetzner)": 2}

    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        orphan = await http.post(
            "/servers",
            headers=auth,
            json={"name": "behind-our-back", "server_type": "cx23", "image": "debian-12"},
        )
        assert orphan.status_code == 201
        deleted = await http.delete(f"/servers/{gone['provider_instance_id']}", headers=auth)
        assert deleted.status_code == 200
        # Hetzner deletes through an action: `deleting` until it ran, then gone.
        for _ in range(100):
            answer = await http.get(f"/servers/{gone['provider_instance_id']}", headers=auth)
            if answer.status_code == 404:
                break
            await asyncio.sleep(0.05)

    code, output = await _reconcile(app, tmp_path, "--json")
    assert code == 1
    findings = {(f["kind"], f["subject"]): f for f in json.loads(output)["findings"]}
    orphan_id = str(orphan.json()["server"]["id"])
    assert set(findings) == {("orphan", orphan_id), ("missing", gone["provider_instance_id"])}
    assert "not made by Stellwerk" in findings[("orphan", orphan_id)]["detail"]
    assert findings[("missing", gone["provider_instance_id"])]["ours"] == "running"
    assert kept["provider_instance_id"] not in {subject for _, subject in findings}

    code, table = await _reconcile(app, tmp_path)
    assert code == 1
    assert "2 mismatch(es)" in table, table
    assert "orphan" in table
    assert "missing" in table
