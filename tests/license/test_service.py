"""Licensing rules under concurrency, on both databases."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from stellwerk.runtime import Runtime
from tests.license.factories import create_license


async def test_fifty_parallel_activations_of_five_seats(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime, max_activations=5)

    async def activate(number: int) -> httpx.Response:
        return await client.post(
            "/api/license/activate",
            json={"license_key": lic.license_key, "hardware_hash": f"machine-{number}"},
            headers=key_headers,
        )

    responses = await asyncio.wait_for(
        asyncio.gather(*(activate(n) for n in range(50))), timeout=120
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 5, 409: 45}, statuses
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["code"] == "ACTIVATION_LIMIT_REACHED"
    info = await client.get(f"/api/license/info/{lic.license_key}", headers=key_headers)
    assert sum(a["is_active"] for a in info.json()["activations"]) == 5


async def test_parallel_activations_of_one_machine_take_one_seat(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime, max_activations=2)
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post(
                    "/api/license/activate",
                    json={"license_key": lic.license_key, "hardware_hash": "same"},
                    headers=key_headers,
                )
                for _ in range(10)
            )
        ),
        timeout=60,
    )
    assert all(r.status_code == 200 for r in responses)
    assert len({r.json()["activation"]["id"] for r in responses}) == 1


async def test_parallel_session_starts_of_a_single_session_client(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime, max_users=5)
    await client.post(
        "/api/license/activate",
        json={"license_key": lic.license_key, "hardware_hash": "hw"},
        headers=key_headers,
    )
    body = {"license_key": lic.license_key, "hardware_hash": "hw", "version": "1.0.0"}
    responses = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.post("/api/license/session/start", json=body, headers=key_headers)
                for _ in range(10)
            )
        ),
        timeout=60,
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}


async def test_deactivating_a_device_ends_its_sessions(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime)
    device = {"license_key": lic.license_key, "hardware_hash": "hw"}
    await client.post("/api/license/activate", json=device, headers=key_headers)
    started = await client.post("/api/license/session/start", json=device, headers=key_headers)
    await client.post("/api/license/deactivate", json=device, headers=key_headers)
    beat = await client.post(
        "/api/license/session/heartbeat",
        json={"session_token": started.json()["session_token"], "license_key": lic.license_key},
        headers=key_headers,
    )
    assert beat.status_code == 409
    assert beat.json()["end_reason"] == "device_deactivated"


async def test_silent_devices_lose_their_seat_and_may_come_back(
    client: httpx.AsyncClient,
    runtime: Runtime,
    key_headers: dict[str, str],
    admin: dict[str, str],
) -> None:
    """Keygen-style culling: no heartbeat or verify for the configured days frees the seat."""
    import datetime as dt

    from sqlalchemy import update

    from stellwerk.kit.time import utc_now
    from stellwerk.license import service as license_service
    from stellwerk.models import LicenseActivation

    lic = await create_license(runtime, max_activations=1)
    body = {"license_key": lic.license_key, "hardware_hash": "old-laptop"}
    assert (
        await client.post("/api/license/activate", json=body, headers=key_headers)
    ).status_code == 200
    other = {"license_key": lic.license_key, "hardware_hash": "new-laptop"}
    full = await client.post("/api/license/activate", json=other, headers=key_headers)
    assert full.json()["code"] == "ACTIVATION_LIMIT_REACHED"
    async with runtime.database.session() as session:
        await session.execute(
            update(LicenseActivation)
            .where(LicenseActivation.hardware_hash == "old-laptop")
            .values(last_heartbeat=utc_now() - dt.timedelta(days=31))
        )
    off = runtime.settings.model_copy(update={"license_device_inactive_days": 0})
    assert await license_service.activation.cull_silent(runtime.database, off) == 0
    longer = runtime.settings.model_copy(update={"license_device_inactive_days": 60})
    assert await license_service.activation.cull_silent(runtime.database, longer) == 0
    assert await license_service.activation.cull_silent(runtime.database, runtime.settings) == 1
    assert await license_service.activation.cull_silent(runtime.database, runtime.settings) == 0

    verify = {**body, "app_version": "1.0.0"}
    verdict = (await client.post("/api/license/verify", json=verify, headers=key_headers)).json()
    assert (verdict["valid"], verdict["reason"]) == (False, "not_activated")
    devices = (await client.get(f"/api/license/{lic.id}/devices", headers=admin)).json()
    assert [d["is_active"] for d in devices["devices"]] == [False]
    audit = (await client.get("/api/admin/audit", headers=admin)).json()["items"]
    culled = [e for e in audit if e["action"] == "license.deactivate_device"]
    assert culled[0]["detail"]["reason"] == "inactive"
    assert culled[0]["actor_name"] == "system"
    # The seat is free for another device, and the old one may activate again later.
    assert (
        await client.post("/api/license/activate", json=other, headers=key_headers)
    ).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert "stellwerk_license_devices_culled_total" in metrics
