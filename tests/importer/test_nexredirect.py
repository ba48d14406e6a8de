"""`stellwerk import nexredirect`: a NexRedirect file built by its own schema, imported, and
checked through the API as NexRedirect's clients use it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
from sqlalchemy import func, select

from stellwerk.importer import frame
from stellwerk.importer.nexredirect import NexRedirectImporter
from stellwerk.models import (
    ApiToken,
    AuditEvent,
    RedirectDomain,
    RedirectHit,
    User,
    WebhookEndpoint,
)
from stellwerk.notify.service import endpoint_secret
from stellwerk.runtime import Runtime
from tests.importer.nexredirect_source import HITS_PER_DOMAIN, PASSWORD, REVOKED_TOKEN, TOKEN, build


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.database.session() as session:
        return {
            model.__tablename__: int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in (User, RedirectDomain, ApiToken, RedirectHit)
        }


async def test_dry_run_changes_nothing_and_reports_the_plan(
    runtime: Runtime, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    before = await _counts(runtime)
    report = await frame.run(runtime.database, NexRedirectImporter(source), dry_run=True)

    counts = report.counts()
    assert counts["user"]["create"] == 2
    assert counts["domain"]["create"] == 3
    assert counts["api_token"] == {"create": 1, "update": 0, "skip": 1, "refuse": 0}
    assert counts["hit"]["create"] == 2 * HITS_PER_DOMAIN
    assert counts["setting"]["skip"] == 3
    assert await _counts(runtime) == before


async def test_old_token_lists_the_domains_and_hits_appear_in_stats(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    report = await frame.run(runtime.database, NexRedirectImporter(source, batch=7), dry_run=False)
    assert report.counts()["hit"]["create"] == 2 * HITS_PER_DOMAIN

    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = await client.get("/api/v1/domains", headers=auth)
    assert listed.status_code == 200, listed.text
    domains = {d["domain"]: d for d in listed.json()["domains"]}
    assert set(domains) == {"old-shop.example", "brand-a.example", "closing.example"}
    assert domains["brand-a.example"]["target_url"] == "https://brand.example.org/"
    assert domains["old-shop.example"]["status"] == "active"
    assert not domains["old-shop.example"]["include_www"]
    assert domains["closing.example"]["sunset_config"]["sunset_date"] == "2027-01-31"

    stats = await client.get(
        f"/api/v1/domains/{domains['old-shop.example']['id']}/stats?days=7", headers=auth
    )
    assert stats.status_code == 200, stats.text
    assert stats.json()["total"] == HITS_PER_DOMAIN
    summary = await client.get("/api/v1/analytics/summary?days=7", headers=auth)
    assert summary.json()["total"] == 2 * HITS_PER_DOMAIN

    revoked = await client.get(
        "/api/v1/domains", headers={"Authorization": f"Bearer {REVOKED_TOKEN}"}
    )
    assert revoked.status_code == 401

    # The bcrypt password works and is replaced by argon2id on that login.
    login = await client.post(
        "/api/auth/login", json={"username": "ops@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    async with runtime.database.session() as session:
        user = await session.scalar(select(User).where(User.username == "ops@example.com"))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        viewer = await session.scalar(select(User).where(User.username == "viewer@example.com"))
        assert viewer is not None
        assert viewer.role == "customer"
        audits = await session.scalar(
            select(func.count()).where(AuditEvent.action == "import.nexredirect")
        )
        assert audits == 1


async def test_a_second_import_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    source = build(tmp_path / "nexredirect.db")
    await frame.run(runtime.database, NexRedirectImporter(source), dry_run=False)
    before = await _counts(runtime)

    again = await frame.run(runtime.database, NexRedirectImporter(source), dry_run=False)

    assert again.changes == 0
    assert {e.action for e in again.entries} == {frame.Action.SKIP}
    assert await _counts(runtime) == before


async def test_usernames_of_later_versions_are_kept(runtime: Runtime, tmp_path: Path) -> None:
    source = build(tmp_path / "nexredirect.db")
    with closing(sqlite3.connect(source)) as db:
        db.execute("ALTER TABLE users ADD COLUMN username TEXT")
        db.execute("UPDATE users SET username = 'ops' WHERE id = 1")
        db.commit()

    report = await frame.run(runtime.database, NexRedirectImporter(source), dry_run=False)

    created = {e.key for e in report.entries if e.entity == "user"}
    assert created == {"ops", "viewer@example.com"}
    async with runtime.database.session() as session:
        user = await session.scalar(select(User).where(User.username == "ops"))
        assert user is not None
        assert user.email == "ops@example.com"


async def test_settings_with_an_equivalent_are_imported_the_others_reported(
    runtime: Runtime, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    with closing(sqlite3.connect(source)) as db:
        db.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?)",
            [
                ("webhook_url", "https://hooks.example.com/nexredirect"),
                ("base_domain", "go.example.com"),
                ("hits_retention_days", "90"),
            ],
        )
        db.commit()

    def importer() -> NexRedirectImporter:
        return NexRedirectImporter(source, settings=runtime.settings)

    dry = await frame.run(runtime.database, importer(), dry_run=True)
    reasons = {e.key: (e.action.value, e.reason) for e in dry.entries if e.entity == "setting"}
    assert reasons["webhook_url"][0] == "create"
    assert reasons["base_domain"] == ("skip", "no equivalent in Stellwerk")
    assert reasons["hits_retention_days"] == ("skip", "no equivalent in Stellwerk")
    assert reasons["smtp_host"] == ("skip", "no equivalent in Stellwerk")
    assert reasons["setup_complete"] == ("skip", "NexRedirect's own bookkeeping")
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0

    await frame.run(runtime.database, importer(), dry_run=False)
    async with runtime.database.session() as session:
        [endpoint] = (await session.scalars(select(WebhookEndpoint))).all()
    assert endpoint.url == "https://hooks.example.com/nexredirect"
    assert set(endpoint.events) == {
        "redirect_domain.verified",
        "redirect_domain.verification_failed",
    }
    assert endpoint_secret(runtime.settings, endpoint).startswith("whsec_")

    again = await frame.run(runtime.database, importer(), dry_run=False)
    assert again.changes == 0
    [entry] = [e for e in again.entries if e.key == "webhook_url"]
    assert (entry.action.value, entry.reason) == ("skip", "unchanged")

    with closing(sqlite3.connect(source)) as db:
        db.execute(
            "UPDATE settings SET value = 'http://hooks.example.com/v2' WHERE key = 'webhook_url'"
        )
        db.commit()
    changed = await frame.run(runtime.database, importer(), dry_run=False)
    [entry] = [e for e in changed.entries if e.key == "webhook_url"]
    assert entry.action.value == "update"
    async with runtime.database.session() as session:
        urls = (await session.scalars(select(WebhookEndpoint.url))).all()
    assert list(urls) == ["http://hooks.example.com/v2"]


async def test_a_webhook_url_that_is_no_url_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    source = build(tmp_path / "nexredirect.db")
    with closing(sqlite3.connect(source)) as db:
        db.execute("INSERT INTO settings (key, value) VALUES ('webhook_url', 'ftp://x')")
        db.commit()
    report = await frame.run(
        runtime.database, NexRedirectImporter(source, settings=runtime.settings), dry_run=False
    )
    [entry] = [e for e in report.entries if e.key == "webhook_url"]
    assert (entry.action.value, entry.reason) == ("refuse", "not an http:// or https:// URL")
