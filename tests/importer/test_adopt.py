"""`stellwerk domains import` and `stellwerk projects import` against the INWX and Coolify
sandboxes: a dry run, then the same plan applied, then nothing left to do; nothing at the
provider changes."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from sqlalchemy import select

from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.models import Operation, Project
from stellwerk.provider import connect
from stellwerk.provider.paas.base import PublicGitApp
from stellwerk.provider.registrar.inwx.sandbox import SEED_CONTACT_ID
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.importer.conftest import run, run_text
from tests.provider.running import Sandboxes


def _by_key(plan: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {f"{e['entity']}:{e['key']}": (e["action"], e["reason"]) for e in plan["entries"]}


def _account(state: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({k: state[k] for k in ("domains", "zones", "contacts")})


async def test_domains_import(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    settings = runtime.settings
    async with connect.registrar(settings) as registrar:
        await registrar.register(domain="old-shop.de", contact_id=str(SEED_CONTACT_ID))
        await registrar.register(domain="served-elsewhere.de", contact_id=str(SEED_CONTACT_ID))
    async with connect.dns(settings, "inwx") as dns:
        await dns.create_zone(zone="old-shop.de")
        await dns.create_record(zone="old-shop.de", name="www", type="A", content="192.0.2.7")
        await dns.create_record(
            zone="old-shop.de", name="@", type="MX", content="mail.old-shop.de", priority=10
        )
        await dns.create_zone(zone="served-elsewhere.de")
    admin = await admin_headers(runtime)
    # A zone Stellwerk already serves from another provider is refused, not taken over.
    made = await client.post(
        "/api/dns/zones",
        json={"name": "served-elsewhere.de", "provider": "inwx"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    async with runtime.database.session() as session:
        row = await DnsZoneRepository(session).get("served-elsewhere.de")
        assert row is not None
        row.provider = "powerdns"
    before = _account(sandboxes.inwx_state)

    dry = await run(runtime, "domains", "import")
    assert dry["dry_run"] is True
    assert dry["counts"] == {"create": 3, "update": 0, "skip": 0, "refuse": 1}
    plan = _by_key(dry)
    assert plan["domain:old-shop.de"][0] == "create"
    assert plan["zone:old-shop.de"] == ("create", "on the INWX name servers with 5 record(s)")
    assert plan["zone:served-elsewhere.de"] == ("refuse", "served by powerdns here")
    zone = next(e for e in dry["entries"] if e["key"] == "old-shop.de" and e["entity"] == "zone")
    assert {"name": "www", "type": "A", "content": "192.0.2.7", "ttl": 3600} in zone["detail"][
        "records"
    ]
    domains = await client.get("/api/registrar/domains", headers=admin)
    assert domains.json()["total"] == 0  # the dry run wrote nothing

    applied = await run(runtime, "domains", "import", "--apply")
    assert applied["dry_run"] is False
    assert applied["counts"] == dry["counts"]
    again = await run(runtime, "domains", "import", "--apply")
    assert again["counts"] == {"create": 0, "update": 0, "skip": 3, "refuse": 1}
    async with runtime.database.session() as session:
        statuses = (
            await session.scalars(
                select(Operation.status).where(Operation.kind == "import.domains")
            )
        ).all()
    assert list(statuses) == ["completed"] * 3  # each run an operation

    listed = (await client.get("/api/registrar/domains", headers=admin)).json()["items"]
    assert sorted((d["name"], d["origin"], d["adopted_at"] is not None) for d in listed) == [
        ("old-shop.de", "adopted", True),
        ("served-elsewhere.de", "adopted", True),
    ]
    zones = {z["name"]: z for z in (await client.get("/api/dns/zones", headers=admin)).json()}
    assert zones["old-shop.de"]["provider"] == "inwx"
    assert zones["old-shop.de"]["adopted_at"] is not None
    assert zones["served-elsewhere.de"]["adopted_at"] is None
    records = await client.get("/api/dns/zones/old-shop.de/records", headers=admin)
    assert {(r["name"], r["type"], r["content"]) for r in records.json()} >= {
        ("www", "A", "192.0.2.7"),
        ("@", "MX", "mail.old-shop.de"),
    }
    assert _account(sandboxes.inwx_state) == before
    audit = await client.get("/api/admin/audit", params={"action": "import.inwx"}, headers=admin)
    assert audit.status_code == 200, audit.text
    assert len([e for e in audit.json()["items"] if e["action"] == "import.inwx"]) == 2


async def test_projects_import(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    settings = runtime.settings
    async with connect.paas(settings) as paas:
        server = (await paas.list_servers())[0].uuid
        legacy = await paas.create_project(name="Legacy")
        for name, domains in (
            ("Old Shop", ["https://old-shop.de"]),
            ("Blog", ["https://blog.example.org", "https://www.blog.example.org"]),
            ("worker", []),
        ):
            await paas.create_public_application(
                app=PublicGitApp(
                    project_uuid=legacy.uuid,
                    server_uuid=server,
                    name=name,
                    git_repository="https://github.com/coollabsio/coolify-examples",
                    git_branch="main",
                    domains=domains,
                )
            )
        await paas.create_project(name="Empty")
    # A project here already uses the blog's domain, without an application: it is linked.
    async with runtime.database.session() as session:
        session.add(
            Project(
                name="blog", domain="blog.example.org", plugins=[], state="error", dns_records=[]
            )
        )
    before = copy.deepcopy(
        {k: v for k, v in sandboxes.coolify_state.items() if k in ("projects", "applications")}
    )

    dry = await run(runtime, "projects", "import")
    shown = await run_text(runtime, "projects", "import")
    assert "old-shop.de" in shown
    assert "Would create 1, update 1, skip 0, refuse 1. Run again with --apply" in shown
    assert dry["counts"] == {"create": 1, "update": 1, "skip": 0, "refuse": 1}
    reasons = sorted((e["action"], e["reason"]) for e in dry["entries"])
    assert reasons == [
        ("create", "no project uses old-shop.de"),
        ("refuse", "has no domain to match a project by"),
        ("update", "runs project blog's domain blog.example.org"),
    ]
    admin = await admin_headers(runtime)
    assert (await client.get("/api/projects", headers=admin)).json()["total"] == 1

    await run(runtime, "projects", "import", "--apply")
    again = await run(runtime, "projects", "import", "--apply")
    assert again["counts"] == {"create": 0, "update": 0, "skip": 2, "refuse": 1}

    projects = {
        p["name"]: p for p in (await client.get("/api/projects", headers=admin)).json()["items"]
    }
    assert set(projects) == {"blog", "old-shop"}
    shop = projects["old-shop"]
    assert (shop["domain"], shop["state"], shop["live_url"]) == (
        "old-shop.de",
        "active",
        "https://old-shop.de",
    )
    assert shop["adopted_at"] is not None
    assert shop["coolify_app_uuid"]
    assert projects["blog"]["coolify_app_uuid"]
    assert projects["blog"]["adopted_at"] is None
    after = {k: v for k, v in sandboxes.coolify_state.items() if k in ("projects", "applications")}
    assert after == before
