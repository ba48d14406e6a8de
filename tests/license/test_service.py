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
