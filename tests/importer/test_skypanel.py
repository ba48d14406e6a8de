"""`stellwerk import skypanel` from a database built by SkyPanel's own migration, with provider
keys encrypted the panel's way: providers, plans and servers arrive, the servers answer actions
through the API, and the panel's database is left as it was."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, text

from stellwerk.importer import skypanel
from stellwerk.importer.skypanel import decrypt_panel_secret, panel_key
from stellwerk.models import Operation
from stellwerk.runtime import Runtime
from stellwerk.server.compute import secret_box
from stellwerk.server.repository import OwnerRepository
from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database
from tests.factories import admin_headers, bearer, jwt_for
from tests.importer.conftest import run
from tests.provider.compute.conftest import TOKEN, Sandbox
from tests.transactions import transactions_watched

SCHEMA = (Path(__file__).parent / "skypanel" / "001_initial_schema.sql").read_text()
SECRET = "a-panel-secret-of-32-characters!"
OWNER = "alice@example.com"


def encrypt_the_panels_way(plain: str, secret: str) -> str:
    """api/lib/crypto.ts encryptSecret: AES-256-GCM under SHA-256(secret), 12-byte IV, the
    base64 of `{"iv", "tag", "ciphertext"}` (each base64)."""
    key = hashlib.sha256(secret.encode()).digest()
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plain.encode(), None)
    payload = {
        "iv": base64.b64encode(iv).decode(),
        "tag": base64.b64encode(sealed[-16:]).decode(),
        "ciphertext": base64.b64encode(sealed[:-16]).decode(),
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_panel_crypto() -> None:
    stored = encrypt_the_panels_way("the-key", SECRET)
    assert decrypt_panel_secret(stored, panel_key(SECRET)) == "the-key"
    # A panel without SSH_CRED_SECRET used SHA-256 of JWT_SECRET padded with "0" to 32.
    assert panel_key("short", "jwt") == hashlib.sha256(("jwt" + "0" * 29).encode()).digest()
    assert panel_key(None) == hashlib.sha256(b"skypanelv2-dev-secret00000000000").digest()
    # Values that are no encrypted payload are the legacy plain text.
    assert decrypt_panel_secret("plain-token", panel_key(SECRET)) == "plain-token"


@pytest_asyncio.fixture
async def linode(compute_sandboxes: dict[str, Sandbox]) -> Sandbox:
    sandbox = compute_sandboxes["linode"]
    await sandbox.reset()
    return sandbox


@pytest_asyncio.fixture
async def panel() -> AsyncIterator[str]:
    name = f"skypanel_{uuid.uuid4().hex[:8]}"
    await _recreate_database(name)
    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(SCHEMA)
    finally:
        await connection.close()
    yield url
    await _drop_database(name)


async def _seed(url: str, linode: Sandbox) -> dict[str, Any]:
    server_ids = {}
    async with httpx.AsyncClient(base_url=linode.url) as http:
        for label in ("alice-web", "alice-db"):
            made = await http.post(
                "/linode/instances",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "label": label,
                    "type": "g6-nanode-1",
                    "region": "us-east",
                    "image": "linode/ubuntu22.04",
                    "root_pass": "Aa1-strong-password",
                },
            )
            assert made.status_code == 200, made.text
            server_ids[label] = str(made.json()["id"])
    connection = await asyncpg.connect(url)
    try:
        user = await connection.fetchval(
            "INSERT INTO users (email, password_hash, name) VALUES ($1, 'x', 'Alice') RETURNING id",
            OWNER,
        )
        org = await connection.fetchval(
            "INSERT INTO organizations (name, slug, owner_id) VALUES ('Alice', 'alice', $1)"
            " RETURNING id",
            user,
        )
        provider = await connection.fetchval(
            "INSERT INTO service_providers (name, type, api_key_encrypted, configuration,"
            " active, display_order) VALUES ('Linode', 'linode', $1, $2, true, 2) RETURNING id",
            encrypt_the_panels_way(TOKEN, SECRET),
            json.dumps({"api_url": linode.url}),
        )
        plan = await connection.fetchval(
            "INSERT INTO vps_plans (name, provider_id, provider_plan_id, base_price,"
            " markup_price, specifications) VALUES ('Nanode', $1, 'g6-nanode-1', 5, 2, $2)"
            " RETURNING id",
            provider,
            json.dumps({"vcpus": 1, "memory": 1024, "disk": 25600, "transfer": 1000}),
        )
        configuration = {
            "type": "g6-nanode-1",
            "region": "us-east",
            "image": "linode/ubuntu22.04",
            "auth": {"method": "password", "user": "root", "password_enc": "secret"},
        }
        instances = {}
        # A row from before the panel had vps_instances.provider_id names only the type.
        for label, provider_id, provider_instance_id in (
            ("alice-web", provider, server_ids["alice-web"]),
            ("alice-db", None, server_ids["alice-db"]),
            ("gone", provider, "999999"),
        ):
            instances[label] = await connection.fetchval(
                "INSERT INTO vps_instances (organization_id, plan_id, provider_id, provider_type,"
                " provider_instance_id, label, status, configuration)"
                " VALUES ($1, $2, $3, 'linode', $4, $5, 'running', $6) RETURNING id",
                org,
                str(plan),
                provider_id,
                provider_instance_id,
                label,
                json.dumps(configuration),
            )
    finally:
        await connection.close()
    return {
        "provider": str(provider),
        "plan": str(plan),
        "instances": instances,
        "servers": server_ids,
    }


async def _snapshot(url: str) -> list[Any]:
    connection = await asyncpg.connect(url)
    try:
        rows = []
        for table in ("users", "service_providers", "vps_plans", "vps_instances"):
            found = await connection.fetch(f"SELECT * FROM {table} ORDER BY id")
            rows.append([dict(r) for r in found])
        return rows
    finally:
        await connection.close()


async def test_skypanel_import(
    client: httpx.AsyncClient, runtime: Runtime, linode: Sandbox, panel: str
) -> None:
    seeded = await _seed(panel, linode)
    before = await _snapshot(panel)
    args = ("import", "skypanel", "--database-url", panel, "--secret", SECRET)

    wrong = await run(runtime, "import", "skypanel", "--database-url", panel, "--secret", "x" * 20)
    reasons = {(e["entity"], e["action"], e["reason"]) for e in wrong["entries"]}
    assert ("provider", "refuse", "its API key does not decrypt with this secret") in reasons

    dry = await run(runtime, *args)
    assert dry["dry_run"] is True
    assert dry["counts"] == {"create": 5, "update": 0, "skip": 0, "refuse": 2}
    # A new sandbox server may still be provisioning: the state in brackets varies.
    entries = {
        (
            e["entity"],
            e["action"],
            re.sub(r" \((running|provisioning)\)$", " (running)", e["reason"]),
        )
        for e in dry["entries"]
    }
    web, db = seeded["servers"]["alice-web"], seeded["servers"]["alice-db"]
    assert entries == {
        # The migration's own inactive DigitalOcean row, which has no key.
        ("provider", "refuse", "has no API key in the panel"),
        ("provider", "create", "linode account with 2 live server(s)"),
        ("plan", "create", "g6-nanode-1 at 7.00 a month"),
        ("user", "create", "owns servers in the panel, no user here"),
        ("server", "create", f"live at linode as {web} (running)"),
        ("server", "create", f"live at linode as {db} (running)"),
        ("server", "refuse", "linode has no server 999999 any more"),
    }
    admin = await admin_headers(runtime)
    listed = await client.get("/api/admin/providers", headers=admin)
    assert listed.json()["providers"] == []

    applied = await run(runtime, *args, "--apply")
    assert applied["counts"] == dry["counts"]
    # Each run was an operation; what the command line gave is sealed in its input.
    async with runtime.database.session() as session:
        operations = (
            await session.scalars(select(Operation).where(Operation.kind == "import.skypanel"))
        ).all()
    assert len(operations) == 3
    assert all(o.status == "completed" for o in operations)
    assert not any(SECRET in str(o.input) or panel in str(o.input) for o in operations)
    again = await run(runtime, *args, "--apply")
    assert again["counts"] == {"create": 0, "update": 0, "skip": 4, "refuse": 2}
    # The imports only read at the provider: the only writes are the two the test made.
    writes = [(r["method"], r["path"]) for r in await linode.requests() if r["method"] != "GET"]
    assert writes == [("POST", "/v4/linode/instances")] * 2

    # The key is Stellwerk's now: encrypted under Stellwerk's key, never in plain text.
    async with runtime.database.engine.connect() as connection:
        stored = (
            await connection.execute(text("SELECT id, api_key_encrypted FROM service_providers"))
        ).all()
    assert [str(uuid.UUID(str(r[0]))) for r in stored] == [seeded["provider"]]
    assert TOKEN not in stored[0][1]
    assert secret_box(runtime.settings).decrypt(stored[0][1]) == TOKEN

    plans = (await client.get("/api/admin/plans", headers=admin)).json()
    assert [(p["id"], p["provider_plan_id"]) for p in plans["plans"]] == [
        (seeded["plan"], "g6-nanode-1")
    ]

    async with runtime.database.session() as session:
        owner = await OwnerRepository(session).by_email(OWNER)
    assert owner is not None
    user = bearer(jwt_for(runtime, owner))
    mine = (await client.get("/api/vps", headers=user)).json()
    assert mine["total"] == 2
    by_label = {i["label"]: i for i in mine["instances"]}
    server = by_label["alice-web"]
    assert server["id"] == str(seeded["instances"]["alice-web"])
    assert by_label["alice-db"]["provider_id"] == seeded["provider"]
    acted = await client.post(
        f"/api/vps/{server['id']}/action", json={"action": "reboot"}, headers=user
    )
    assert acted.status_code == 200, acted.text
    assert acted.json()["message"] == "Action reboot initiated successfully"

    assert await _snapshot(panel) == before
    audit = await client.get(
        "/api/admin/audit", params={"action": "import.skypanel"}, headers=admin
    )
    assert [e["detail"]["counts"]["create"] for e in audit.json()["items"]] == [0, 5]


async def test_providers_are_asked_with_no_transaction_open(
    runtime: Runtime, linode: Sandbox, panel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(panel, linode)
    connection = await asyncpg.connect(panel)
    try:  # a second account: asked after the first one's plan looked into the database
        await connection.execute(
            "INSERT INTO service_providers (name, type, api_key_encrypted, configuration,"
            " active, display_order) VALUES ('Linode 2', 'linode', $1, $2, true, 3)",
            encrypt_the_panels_way(TOKEN, SECRET),
            json.dumps({"api_url": linode.url}),
        )
    finally:
        await connection.close()
    asked: list[bool] = []
    live_servers = skypanel._live_servers
    with transactions_watched() as open_in:

        async def watched(*args: Any) -> Any:
            asked.append(open_in())
            return await live_servers(*args)

        monkeypatch.setattr(skypanel, "_live_servers", watched)
        dry = await run(runtime, "import", "skypanel", "--database-url", panel, "--secret", SECRET)
    assert dry["dry_run"] is True
    assert asked == [False, False]  # both accounts asked before the plan's transaction
