"""`stellwerk import v2`: a V2 license server database, imported; its clients go on unchanged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from stellwerk.importer import frame
from stellwerk.importer.frame import ImportFailed
from stellwerk.importer.v2 import V2Importer, load_mapping
from stellwerk.models import (
    AuditEvent,
    ClientConfig,
    LeadNoteVersion,
    License,
    LicenseActivation,
    LicenseSession,
    SystemApiKey,
)
from stellwerk.runtime import Runtime
from tests.conftest import postgres_available
from tests.importer.v2_source import API_KEY, HARDWARE, LICENSE_KEY, SESSION_TOKEN, v2_database

pytestmark = pytest.mark.skipif(not postgres_available(), reason="needs PostgreSQL")

COUNTED = (License, LicenseActivation, LicenseSession, SystemApiKey, ClientConfig, LeadNoteVersion)


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.database.session() as session:
        return {
            m.__tablename__: int(await session.scalar(select(func.count()).select_from(m)) or 0)
            for m in COUNTED
        }


async def test_old_clients_go_on_with_the_old_key(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    with v2_database() as url:
        before = await _counts(runtime)
        dry = await frame.run(runtime.database, V2Importer(url), dry_run=True)
        assert await _counts(runtime) == before
        assert dry.counts()["licenses"] == {"create": 2, "update": 0, "skip": 0, "refuse": 1}

        report = await frame.run(runtime.database, V2Importer(url), dry_run=False)
        assert report.counts() == {**dry.counts(), **report.counts()}
        assert report.counts()["sessions"]["skip"] == 1  # the ended one

        again = await frame.run(runtime.database, V2Importer(url), dry_run=False)
        assert again.changes == 0
        after = await _counts(runtime)

    headers = {"X-API-Key": API_KEY}
    verify = await client.post(
        "/api/license/verify",
        json={"license_key": LICENSE_KEY, "hardware_hash": HARDWARE, "app_version": "1.0.0"},
        headers=headers,
    )
    assert verify.status_code == 200, verify.text
    assert verify.json()["valid"] is True
    assert verify.json()["license"]["max_users"] == 10

    activate = await client.post(
        "/api/license/activate",
        json={"license_key": LICENSE_KEY, "hardware_hash": "hw-new", "machine_name": "NEW"},
        headers=headers,
    )
    assert activate.status_code == 200, activate.text

    heartbeat = await client.post(
        "/api/license/session/heartbeat",
        json={"session_token": SESSION_TOKEN, "license_key": LICENSE_KEY},
        headers=headers,
    )
    assert heartbeat.status_code == 200, heartbeat.text

    async with runtime.database.session() as session:
        config = await session.scalar(
            select(ClientConfig).where(ClientConfig.name == "Account Forger")
        )
        assert config is not None
        assert config.heartbeat_interval == 45
        audits = await session.scalar(select(func.count()).where(AuditEvent.action == "import.v2"))
    assert audits == 2
    assert after[LeadNoteVersion.__tablename__] == 2
    assert after[SystemApiKey.__tablename__] >= 1


def test_a_mapping_file_renames_tables_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        '[activations]\ntable = "device_registrations"\n[activations.columns]\n'
        'hardware_hash = "hardware_id"\n'
    )
    mapping = load_mapping(path)
    assert mapping["activations"]["table"] == "device_registrations"
    assert mapping["activations"]["columns"]["hardware_hash"] == "hardware_id"
    assert mapping["licenses"]["table"] == "licenses"

    path.write_text('[licences]\ntable = "x"\n')
    with pytest.raises(ImportFailed):
        load_mapping(path)
