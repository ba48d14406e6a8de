"""The compute sandboxes as `stellwerk serve` runs them: registered, on loopback, with the URL
each official client takes, and keeping their state across a restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from stellwerk.config import Settings
from stellwerk.provider.compute.hetzner import sandbox as hetzner_sandbox
from stellwerk.provider.sandbox.kit import start_server
from stellwerk.provider.sandbox.listener import start_all


async def test_registered_with_the_client_base_urls(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, sandbox_port=0)  # type: ignore[call-arg]
    running = await start_all(settings, persist=False)
    try:
        urls = {sandbox.name: sandbox.url for sandbox in running}
    finally:
        for sandbox in running:
            await sandbox.stop()
    assert urls["hetzner"].startswith("http://127.0.0.1:")
    assert urls["hetzner"].endswith("/v1")
    assert urls["linode"].endswith("/v4")
    assert not urls["digitalocean"].endswith("/v2")


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    headers = {"Authorization": "Bearer sandbox-restart"}
    first = await start_server(hetzner_sandbox.create_app(tmp_path), name="hetzner", suffix="/v1")
    async with httpx.AsyncClient(base_url=first.url, headers=headers) as http:
        created = await http.post(
            "/servers", json={"name": "keep-me", "server_type": "cx23", "image": "debian-12"}
        )
    await first.stop()
    assert created.status_code == 201
    second = await start_server(hetzner_sandbox.create_app(tmp_path), name="hetzner", suffix="/v1")
    async with httpx.AsyncClient(base_url=second.url, headers=headers) as http:
        servers = (await http.get("/servers")).json()["servers"]
    await second.stop()
    assert [s["name"] for s in servers] == ["keep-me"]
    assert (tmp_path / "hetzner.json").exists()
