"""The license client library against the real app, as an application would use it."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import httpx
import pytest

from stellwerk.client.license import (
    InvalidLicenseFile,
    LicenseClient,
    LicenseError,
    verify_license_file,
)
from stellwerk.license import signing
from stellwerk.license.signing import KEY_FILE, SECRET_NAME
from stellwerk.models import InstallationSecret
from stellwerk.runtime import Runtime
from tests.license.factories import create_license, create_release

HW = "hw-client-1"


async def test_activate_verify_and_version(license_client: LicenseClient, runtime: Runtime) -> None:
    lic = await create_license(runtime)
    await create_release(runtime, "1.2.0")
    activated = await license_client.activate(lic.license_key, HW, app_version="1.0.0")
    assert activated["activation"]["is_active"] is True
    verdict = await license_client.verify(lic.license_key, HW, app_version="1.0.0")
    assert verdict["valid"] is True
    assert verdict["update_available"] is True
    assert (await license_client.check_version("1.0.0"))["latest_version"] == "1.2.0"
    with pytest.raises(LicenseError) as refused:
        await license_client.verify("ABCD-EFGH-JKMN-PQRS", HW)
    assert refused.value.status == 404
    assert refused.value.code == "LICENSE_NOT_FOUND"


async def test_session_heartbeats_in_the_background(
    license_client: LicenseClient, runtime: Runtime
) -> None:
    lic = await create_license(runtime)
    await license_client.activate(lic.license_key, HW)
    async with license_client.session(
        lic.license_key, HW, version="1.0.0", heartbeat_interval=0.05
    ) as session:
        for _ in range(100):
            if session.heartbeats >= 2:
                break
            await asyncio.sleep(0.05)
        assert session.heartbeats >= 2
        assert session.alive
        with pytest.raises(LicenseError) as second:
            await license_client.session(lic.license_key, HW).start()
        assert second.value.status == 409
    ended = await session.end()
    assert ended is None  # already ended when the block closed


async def test_signed_file_verifies_offline(
    license_client: LicenseClient, runtime: Runtime
) -> None:
    signing.forget()  # an earlier test's key is gone with its tables
    lic = await create_license(runtime, valid_until=dt.date(2999, 1, 1))
    await license_client.activate(lic.license_key, HW)
    public_key = await license_client.public_key()
    signed = await license_client.license_file(lic.license_key, HW)
    payload = verify_license_file(signed, public_key, hardware_hash=HW)
    assert payload["license_key"] == lic.license_key
    assert payload["hardware_hash"] == HW
    # One changed byte in the signed document breaks the signature.
    raw = bytearray(base64.b64decode(signed["payload"]))
    raw[10] ^= 0x01
    tampered = {**signed, "payload": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(InvalidLicenseFile):
        verify_license_file(tampered, public_key, hardware_hash=HW)
    with pytest.raises(InvalidLicenseFile):
        verify_license_file(signed, public_key, hardware_hash="another-machine")
    with pytest.raises(InvalidLicenseFile):
        verify_license_file(
            signed, public_key, hardware_hash=HW, now=dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
        )
    # The private key lives in the database, encrypted; no plain copy in the data directory.
    assert not (runtime.settings.data_dir / KEY_FILE).exists()
    async with runtime.database.session() as db_session:
        stored = await db_session.get(InstallationSecret, SECRET_NAME)
    assert stored is not None
    assert b"PRIVATE KEY" not in stored.encrypted_value
    with pytest.raises(LicenseError) as not_here:
        await license_client.license_file(lic.license_key, "not-activated")
    assert not_here.value.code == "LICENSE_NOT_ACTIVATED"


async def test_metrics_show_license_activity(
    client: httpx.AsyncClient, license_client: LicenseClient, runtime: Runtime
) -> None:
    lic = await create_license(runtime)
    await license_client.activate(lic.license_key, HW)
    await license_client.verify(lic.license_key, HW)
    await license_client.verify(lic.license_key, "elsewhere")
    async with license_client.session(lic.license_key, HW) as session:
        await session.heartbeat()
        text = (await client.get("/metrics")).text
        assert "stellwerk_license_active_sessions 1.0" in text
    text = (await client.get("/metrics")).text
    for name in (
        'stellwerk_license_activations_total{result="activated"}',
        'stellwerk_license_verifications_total{result="valid"}',
        'stellwerk_license_verifications_total{result="not_activated"}',
        "stellwerk_license_heartbeats_total",
        "stellwerk_license_sessions_expired_total",
        "stellwerk_license_active_sessions 0.0",
        'stellwerk_licenses{state="active"} 1.0',
    ):
        assert name in text, name
