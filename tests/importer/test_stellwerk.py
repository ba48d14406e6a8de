"""`stellwerk export` and `stellwerk import stellwerk`: an installation with data from every
importer, exported and imported into a fresh PostgreSQL installation, answers the same."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stellwerk.app import create_app
from stellwerk.audit.actor import Actor
from stellwerk.config import Settings
from stellwerk.importer import frame
from stellwerk.importer.frame import ImportFailed
from stellwerk.importer.nexredirect import NexRedirectImporter
from stellwerk.importer.stellwerk import StellwerkImporter, export
from stellwerk.importer.v2 import V2Importer
from stellwerk.license.service import license_file
from stellwerk.models import ApiToken, User, WebhookEndpoint
from stellwerk.notify.service import endpoint_secret, webhooks
from stellwerk.runtime import Runtime
from tests.conftest import (
    PG_HOST,
    PG_PORT,
    PROBING_JOBS,
    _drop_database,
    _recreate_database,
    postgres_available,
)
from tests.factories import create_admin, create_token
from tests.importer.nexredirect_source import TOKEN, build
from tests.importer.v2_source import API_KEY, HARDWARE, LICENSE_KEY, v2_database

pytestmark = pytest.mark.skipif(not postgres_available(), reason="needs PostgreSQL")

PASSPHRASE = "correct horse battery staple"
# Lists whose answers must not change with the move (volatile fields dropped below).
LISTS = (
    "/api/v1/domains",
    "/api/v1/groups",
    "/api/v1/analytics/summary?days=7",
    "/api/v1/hits?per_page=50",
    "/api/licenses",
    "/api/customers",
    "/api/releases",
    "/api/client-configs",
    "/api/resources",
    "/api/admin/users",
    "/leads/api/institutions",
    "/leads/api/contacts",
)
VOLATILE = {"last_used_at", "last_login_at", "updated_at", "target_checked_at"}


def _stable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _stable(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [_stable(v) for v in data]
    return data


async def _answers(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for path in LISTS:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        answers[path] = _stable(response.json())
    return answers


@asynccontextmanager
async def fresh_installation(
    tmp_path: Path, backend: str = "postgresql"
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A second installation on a new database (PostgreSQL, or SQLite in its own data
    directory), with a master key of its own."""
    name = f"stellwerk_moved_{os.getpid()}"
    if backend == "postgresql":
        await _recreate_database(name)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "moved",
        database_url=f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
        if backend == "postgresql"
        else None,
        secret_key="another-installation-secret-key-for-moves",
        sandbox=False,
        executor_id=f"moved-{os.getpid()}",
        admin_username=None,
        admin_password=None,
        redis_url=None,
        modules_root=tmp_path / "moved-modules",
        disabled_jobs=PROBING_JOBS,
    )
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50001))
            async with httpx.AsyncClient(transport=transport, base_url="http://moved") as http:
                yield application.state.runtime, http
    finally:
        shutil.rmtree(tmp_path / "moved-modules", ignore_errors=True)
        if backend == "postgresql":
            await _drop_database(name)


async def test_export_and_import_into_a_fresh_postgresql_installation(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await frame.run(runtime.database, NexRedirectImporter(build(tmp_path / "nr.db")), dry_run=False)
    with v2_database() as url:
        await frame.run(runtime.database, V2Importer(url), dry_run=False)
    admin = await create_admin(runtime)
    headers = {"Authorization": f"Bearer {await create_token(runtime, admin, ['admin'])}"}
    before = await _answers(client, headers)

    directory = tmp_path / "export"
    manifest = await export(runtime.database, runtime.settings, directory, passphrase=PASSPHRASE)
    assert manifest["secrets"] is True
    assert (directory / "redirect_hits.jsonl").exists()
    assert PASSPHRASE not in (directory / "users.jsonl").read_text()
    assert "$argon2" not in (directory / "users.jsonl").read_text()

    async with fresh_installation(tmp_path) as (moved, moved_client):
        with pytest.raises(ImportFailed):
            await frame.run(
                moved.database, StellwerkImporter(directory, moved.settings), dry_run=True
            )
        importer = StellwerkImporter(directory, moved.settings, passphrase=PASSPHRASE)
        dry = await frame.run(moved.database, importer, dry_run=True)
        assert dry.changes > 0
        report = await frame.run(
            moved.database,
            StellwerkImporter(directory, moved.settings, passphrase=PASSPHRASE),
            dry_run=False,
        )
        assert report.counts()["redirect_hits"]["create"] == 60
        assert not any(n["refuse"] for n in report.counts().values()), report.counts()

        assert await _answers(moved_client, headers) == before
        old_token = await moved_client.get(
            "/api/v1/domains", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert old_token.status_code == 200
        verify = await moved_client.post(
            "/api/license/verify",
            json={"license_key": LICENSE_KEY, "hardware_hash": HARDWARE},
            headers={"X-API-Key": API_KEY},
        )
        assert verify.json()["valid"] is True

        again = await frame.run(
            moved.database,
            StellwerkImporter(directory, moved.settings, passphrase=PASSPHRASE),
            dry_run=False,
        )
        assert again.changes == 0, {k: v for k, v in again.counts().items() if v["update"]}


async def test_an_export_without_secrets_holds_none(runtime: Runtime, tmp_path: Path) -> None:
    admin = await create_admin(runtime)
    await create_token(runtime, admin, ["admin"])
    directory = tmp_path / "export"
    manifest = await export(runtime.database, runtime.settings, directory)
    assert manifest["secrets"] is False
    assert not (directory / "api_tokens.jsonl").exists()
    assert not (directory / "system_api_keys.jsonl").exists()
    assert '"password_hash":null' in (directory / "users.jsonl").read_text()
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(ApiToken)) == 1
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def _public_key(runtime: Runtime) -> str:
    """The public key `/api/license/public-key` serves (and offline license files verify with)."""
    return (await license_file.signing_key(runtime)).public_pem


async def _endpoints(runtime: Runtime) -> list[tuple[int, str, list[str], str, bool]]:
    """Each webhook endpoint with its opened signing secret."""
    async with runtime.database.session() as session:
        rows = (await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).all()
        return [
            (e.id, e.url, list(e.events), endpoint_secret(runtime.settings, e), e.is_active)
            for e in rows
        ]


async def test_the_signing_key_and_webhook_endpoints_move_with_the_secrets(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path, backend: str
) -> None:
    """Onto the same backend as the source's: both backends are covered."""
    async with runtime.database.session() as session:
        _, secret = await webhooks.create(
            session,
            Actor.cli(),
            runtime.settings,
            url="https://hooks.example.com/stellwerk",
            events=["operation.failed"],
            description="ops",
        )
    endpoints = await _endpoints(runtime)
    assert endpoints[0][3] == secret
    key = await _public_key(runtime)
    with_secrets = tmp_path / "with"
    await export(runtime.database, runtime.settings, with_secrets, passphrase=PASSPHRASE)
    assert secret not in (with_secrets / "webhook_endpoints.jsonl").read_text()
    without = tmp_path / "without"
    manifest = await export(runtime.database, runtime.settings, without)
    assert manifest["left_out"]["installation_secrets"] == 1
    assert manifest["left_out"]["webhook_endpoints"] == 1
    assert not (without / "installation_secrets.jsonl").exists()
    assert not (without / "webhook_endpoints.jsonl").exists()

    async with fresh_installation(tmp_path, backend) as (moved, _):
        own_key = await _public_key(moved)  # a fresh installation makes its own
        assert own_key != key

        plain = await frame.run(
            moved.database, StellwerkImporter(without, moved.settings), dry_run=False
        )
        skipped = {e.entity: e.reason for e in plain.entries if e.entity in manifest["left_out"]}
        assert "exported without secrets" in str(skipped["installation_secrets"])
        assert "webhook endpoints are added again" in str(skipped["webhook_endpoints"])
        assert await _endpoints(moved) == []
        assert await _public_key(moved) == own_key

        report = await frame.run(
            moved.database,
            StellwerkImporter(with_secrets, moved.settings, passphrase=PASSPHRASE),
            dry_run=False,
        )
        assert report.counts()["installation_secrets"]["update"] == 1
        assert report.counts()["webhook_endpoints"]["create"] == 1
        assert await _public_key(moved) == key
        assert await _endpoints(moved) == endpoints

        again = await frame.run(
            moved.database,
            StellwerkImporter(with_secrets, moved.settings, passphrase=PASSPHRASE),
            dry_run=False,
        )
        assert again.counts()["installation_secrets"]["skip"] == 1
        assert again.counts()["webhook_endpoints"]["skip"] == 1
