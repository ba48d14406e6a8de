"""The license fast path answers exactly like the FastAPI routes, on both databases.

The fast path answers well-formed verify requests itself (on SQLite from a read connection on
the event loop, on PostgreSQL through asyncpg); for anything unusual the route does. Each case is
sent twice, once with the fast path switched off, and both answers must be equal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update

from stellwerk.audit.actor import Actor
from stellwerk.kit.secret import hash_token
from stellwerk.kit.time import as_utc, utc_now
from stellwerk.license import metrics
from stellwerk.license import service as license_service
from stellwerk.license.bookkeeping import touches
from stellwerk.license.fastpath import API_KEY_CHANNEL, VerifyFastPath
from stellwerk.models import LicenseActivation, LicenseSession
from stellwerk.runtime import Runtime
from tests.factories import create_api_key
from tests.license.factories import create_license, create_release

HW = "fast-path-hardware"
HEARTBEAT = "/api/license/session/heartbeat"
INVALID_KEY_BODY = {"error": "Invalid or missing API key", "code": "INVALID_API_KEY", "status": 401}


def fast_path_of(app: FastAPI) -> VerifyFastPath:
    fast_path: VerifyFastPath = app.state.license_fast_path
    return fast_path


@dataclass
class Answers:
    """How many requests the fast path answered itself (it returns None to pass one on)."""

    count: int = 0


@pytest_asyncio.fixture
async def answered(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Answers]:
    fast_path = fast_path_of(app)
    answers = Answers()
    original = fast_path.answer

    async def counting(scope: object, body: bytes) -> object:
        result = await original(scope, body)  # type: ignore[arg-type]
        if result is not None:
            answers.count += 1
        return result

    monkeypatch.setattr(fast_path, "answer", counting)
    yield answers


async def both(
    app: FastAPI, client: httpx.AsyncClient, **request: object
) -> tuple[httpx.Response, httpx.Response]:
    """The same request through the fast path and through the FastAPI route."""
    fast = await client.request("POST", "/api/license/verify", **request)  # type: ignore[arg-type]
    fast_path = fast_path_of(app)
    fast_path.enabled = False  # every request takes the route
    try:
        routed = await client.request("POST", "/api/license/verify", **request)  # type: ignore[arg-type]
    finally:
        fast_path.enabled = True
    return fast, routed


def assert_same(fast: httpx.Response, routed: httpx.Response) -> None:
    assert fast.status_code == routed.status_code, (fast.text, routed.text)
    assert fast.json() == routed.json()
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert fast.headers.get("retry-after") == routed.headers.get("retry-after")
    for header in ("x-request-id", "x-content-type-options", "referrer-policy"):
        assert header in fast.headers


async def test_same_answers_as_the_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    key_headers: dict[str, str],
    answered: Answers,
) -> None:
    await create_release(runtime, "2.0.0", min_supported_version="1.5.0")
    usable = await create_license(
        runtime, license_type="subscription", valid_until=dt.date(2999, 1, 1), max_users=7
    )
    inactive = await create_license(runtime, is_active=False)
    expired = await create_license(
        runtime, valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2021, 1, 1)
    )
    future = await create_license(runtime, valid_from=dt.date(2999, 1, 1))
    activated = await client.post(
        "/api/license/activate",
        json={"license_key": usable.license_key, "hardware_hash": HW},
        headers=key_headers,
    )
    assert activated.status_code == 200

    def body(key: str, hw: str = HW, version: str | None = "2.0.0") -> dict[str, object]:
        return {"license_key": key, "hardware_hash": hw, "app_version": version}

    json_headers = {**key_headers, "Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, object], bool]] = [
        ("valid", {"json": body(usable.license_key), "headers": key_headers}, True),
        (
            "update",
            {"json": body(usable.license_key, version="1.9.0"), "headers": key_headers},
            True,
        ),
        ("old", {"json": body(usable.license_key, version="1.4.0"), "headers": key_headers}, True),
        (
            "no version",
            {"json": body(usable.license_key, version=None), "headers": key_headers},
            True,
        ),
        (
            "lower-case key",
            {"json": body(usable.license_key.lower()), "headers": key_headers},
            True,
        ),
        (
            "not activated",
            {"json": body(usable.license_key, hw="other"), "headers": key_headers},
            True,
        ),
        ("inactive", {"json": body(inactive.license_key), "headers": key_headers}, True),
        ("expired", {"json": body(expired.license_key), "headers": key_headers}, True),
        ("not yet valid", {"json": body(future.license_key), "headers": key_headers}, True),
        ("unknown", {"json": body("ABCD-EFGH-JKMN-PQRS"), "headers": key_headers}, True),
        ("no key", {"json": body(usable.license_key)}, True),
        (
            "wrong key",
            {"json": body(usable.license_key), "headers": {"X-API-Key": "AF-2026-" + "x" * 32}},
            True,
        ),
        (
            "malformed key",
            {"json": body(usable.license_key), "headers": {"X-API-Key": "nope"}},
            True,
        ),
        ("malformed JSON", {"content": b"{not json", "headers": json_headers}, False),
        ("bad license key", {"json": body("nope"), "headers": key_headers}, False),
        (
            "no hardware",
            {"json": {"license_key": usable.license_key}, "headers": key_headers},
            False,
        ),
        ("empty body, no key", {"json": {}}, False),
        ("not an object", {"json": [1, 2], "headers": key_headers}, False),
        ("form body", {"data": {"license_key": usable.license_key}, "headers": key_headers}, False),
    ]
    assert fast_path_of(app).active
    for name, request, fast_answers in cases:
        before = answered.count
        fast, routed = await both(app, client, **request)
        assert_same(fast, routed)
        expected = 1 if fast_answers else 0
        assert answered.count - before == expected, name
    valid, _ = await both(app, client, json=body(usable.license_key), headers=key_headers)
    assert valid.json() == {
        "valid": True,
        "message": "License is valid",
        "reason": None,
        "license": {
            "key": usable.license_key,
            "type": "subscription",
            "valid_until": "2999-01-01",
            "max_users": 7,
        },
        "update_available": False,
        "latest_version": "2.0.0",
        "min_supported_version": "1.5.0",
    }
    missing, _ = await both(app, client, json=body(usable.license_key))
    assert missing.status_code == 401
    assert missing.json() == INVALID_KEY_BODY


async def test_rotated_key_stops_working_at_once(
    client: httpx.AsyncClient, runtime: Runtime, api_key: str
) -> None:
    lic = await create_license(runtime)
    request = {"license_key": lic.license_key, "hardware_hash": HW}
    ok = await client.post("/api/license/verify", json=request, headers={"X-API-Key": api_key})
    assert ok.status_code == 200
    new_key = await create_api_key(runtime)  # rotates
    old = await client.post("/api/license/verify", json=request, headers={"X-API-Key": api_key})
    assert old.status_code == 401
    assert old.json() == INVALID_KEY_BODY
    new = await client.post("/api/license/verify", json=request, headers={"X-API-Key": new_key})
    assert new.status_code == 200


async def test_rotation_in_another_process_arrives_by_notification(
    app: FastAPI, client: httpx.AsyncClient, runtime: Runtime, api_key: str
) -> None:
    if runtime.database.dialect != "postgresql":
        pytest.skip("notifications between processes need PostgreSQL")
    fast_path = fast_path_of(app)
    fast_path.keys.ttl = 300.0  # only the notification can make the cache reload in time
    fast_path.keys.invalidate()
    try:
        lic = await create_license(runtime)
        request = {"license_key": lic.license_key, "hardware_hash": HW}
        headers = {"X-API-Key": api_key}
        assert (await client.post("/api/license/verify", json=request, headers=headers)).is_success
        # Another process rotates: plain SQL here, no ORM event in this process.
        dsn = runtime.database.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        other = await asyncpg.connect(dsn)
        try:
            async with other.transaction():
                await other.execute(
                    "UPDATE system_api_keys SET revoked_at = now(), is_current = NULL"
                    " WHERE revoked_at IS NULL"
                )
                await other.execute(
                    "INSERT INTO system_api_keys (key_hash, prefix, created_at, is_current)"
                    " VALUES ($1, 'AF-2026-zzzz', now(), true)",
                    hash_token("AF-2026-" + "z" * 32),
                )
                await other.execute(f"SELECT pg_notify('{API_KEY_CHANNEL}', '')")
        finally:
            await other.close()
        for _ in range(50):  # bounded: 5 s at most
            refused = await client.post("/api/license/verify", json=request, headers=headers)
            if refused.status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert refused.status_code == 401
        new = {"X-API-Key": "AF-2026-" + "z" * 32}
        assert (await client.post("/api/license/verify", json=request, headers=new)).is_success
    finally:
        fast_path.keys.ttl = 1.0


async def test_rate_limit_shared_with_the_other_endpoints(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime)
    request = {"license_key": lic.license_key, "hardware_hash": HW}
    saved = runtime.settings.license_rate_limit
    runtime.settings.license_rate_limit = "3/minute"
    try:
        codes = [
            (
                await client.post("/api/license/verify", json=request, headers=key_headers)
            ).status_code
            for _ in range(3)
        ]
        limited = await client.post("/api/license/verify", json=request, headers=key_headers)
        other = await client.get("/api/version/latest", headers=key_headers)
    finally:
        runtime.settings.license_rate_limit = saved
    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    body = limited.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["status"] == 429
    assert body["error"] == "Too many requests"
    assert int(limited.headers["retry-after"]) == body["retry_after"] >= 1
    assert other.status_code == 429


def _count(result: str) -> float:
    return metrics.VERIFICATIONS.labels(result).value


async def test_metrics_and_batched_heartbeats(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime)
    device = {"license_key": lic.license_key, "hardware_hash": HW}
    await client.post("/api/license/activate", json=device, headers=key_headers)
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    async with runtime.database.session() as session:
        await session.execute(update(LicenseActivation).values(last_heartbeat=stale))
    await touches.flush()
    valid, not_activated, not_found = _count("valid"), _count("not_activated"), _count("not_found")
    for _ in range(3):
        answer = await client.post("/api/license/verify", json=device, headers=key_headers)
        assert answer.json()["valid"] is True
    await client.post(
        "/api/license/verify", json={**device, "hardware_hash": "else"}, headers=key_headers
    )
    await client.post(
        "/api/license/verify",
        json={**device, "license_key": "ABCD-EFGH-JKMN-PQRS"},
        headers=key_headers,
    )
    assert _count("valid") == valid + 3
    assert _count("not_activated") == not_activated + 1
    assert _count("not_found") == not_found + 1

    async def heartbeat() -> dt.datetime:
        async with runtime.database.session() as session:
            value = await session.scalar(select(LicenseActivation.last_heartbeat))
        assert value is not None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value

    # Not written by the requests themselves: buffered until the writer's next round.
    assert await heartbeat() == stale
    await touches.flush()
    assert await heartbeat() > stale + dt.timedelta(minutes=59)
    page = await client.get("/metrics")
    if page.status_code == 200:
        assert 'stellwerk_license_verifications_total{result="valid"}' in page.text


async def test_license_changes_show_at_once(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime)
    device = {"license_key": lic.license_key, "hardware_hash": HW}
    await client.post("/api/license/activate", json=device, headers=key_headers)
    assert (await client.post("/api/license/verify", json=device, headers=key_headers)).json()[
        "valid"
    ]
    async with runtime.database.session() as session:
        found = await license_service.license.get(session, lic.id)
        await license_service.license.toggle(session, Actor.system(), found)
    off = await client.post("/api/license/verify", json=device, headers=key_headers)
    assert off.json()["reason"] == "inactive"


async def test_activate_and_heartbeat_answer_like_the_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    key_headers: dict[str, str],
    answered: Answers,
) -> None:
    lic = await create_license(runtime, max_activations=2, max_users=3)
    device = {"license_key": lic.license_key, "hardware_hash": HW, "machine_name": "PC-1"}
    first = await client.post("/api/license/activate", json=device, headers=key_headers)
    assert first.json()["already_activated"] is False  # a new seat: always the route's rules
    assert answered.count == 0

    async def twice(path: str, body: dict[str, object]) -> tuple[httpx.Response, httpx.Response]:
        before = answered.count
        fast = await client.post(path, json=body, headers=key_headers)
        assert answered.count - before == 1, path
        fast_path = fast_path_of(app)
        fast_path.enabled = False
        try:
            routed = await client.post(path, json=body, headers=key_headers)
        finally:
            fast_path.enabled = True
        return fast, routed

    def without_time(body: dict[str, object], *fields: str) -> dict[str, object]:
        return {k: v for k, v in body.items() if k not in fields}

    # A changed device name is written at once: the route.
    renamed = await client.post(
        "/api/license/activate", json={**device, "machine_name": "PC-2"}, headers=key_headers
    )
    assert renamed.json()["activation"]["machine_name"] == "PC-2"
    assert answered.count == 0
    fast, routed = await twice("/api/license/activate", {**device, "machine_name": "PC-2"})
    assert fast.status_code == routed.status_code == 200
    assert without_time(fast.json(), "activation") == without_time(routed.json(), "activation")
    fast_activation, routed_activation = fast.json()["activation"], routed.json()["activation"]
    assert without_time(fast_activation, "last_heartbeat") == without_time(
        routed_activation, "last_heartbeat"
    )
    assert fast_activation["machine_name"] == "PC-2"
    assert fast_activation["last_heartbeat"].endswith("Z")
    assert fast_activation["activated_at"] == first.json()["activation"]["activated_at"]

    started = await client.post(
        "/api/license/session/start",
        json={"license_key": lic.license_key, "hardware_hash": HW, "version": "1.0.0"},
        headers=key_headers,
    )
    token = started.json()["session_token"]
    beat = {"session_token": token, "license_key": lic.license_key.lower()}
    fast, routed = await twice("/api/license/session/heartbeat", beat)
    assert fast.status_code == routed.status_code == 200
    assert without_time(fast.json(), "last_heartbeat") == without_time(
        routed.json(), "last_heartbeat"
    )
    assert fast.json()["last_heartbeat"].endswith("Z")

    # Ended, unknown or someone else's: the route answers (after the fast path looked).
    await client.post(
        "/api/license/session/end", json={"session_token": token}, headers=key_headers
    )
    for body, status in [
        (beat, 409),
        ({**beat, "session_token": "unknown"}, 404),
    ]:
        before = answered.count
        response = await client.post(
            "/api/license/session/heartbeat", json=body, headers=key_headers
        )
        assert response.status_code == status
        assert answered.count == before
    deactivated = await client.post(
        "/api/license/deactivate",
        json={"license_key": lic.license_key, "hardware_hash": HW},
        headers=key_headers,
    )
    assert deactivated.status_code == 200
    again = await client.post("/api/license/activate", json=device, headers=key_headers)
    assert again.json()["already_activated"] is False


async def test_handed_on_requests_count_once(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
) -> None:
    lic = await create_license(runtime, max_activations=5)
    saved = runtime.settings.license_rate_limit
    runtime.settings.license_rate_limit = "3/minute"
    try:
        codes = [
            (
                await client.post(
                    "/api/license/activate",
                    json={"license_key": lic.license_key, "hardware_hash": f"new-{n}"},
                    headers=key_headers,
                )
            ).status_code
            for n in range(4)
        ]
    finally:
        runtime.settings.license_rate_limit = saved
    assert codes == [200, 200, 200, 429]


async def _session_heartbeat(runtime: Runtime) -> tuple[dt.datetime, dt.datetime | None]:
    async with runtime.database.session() as session:
        row = (
            await session.execute(select(LicenseSession.last_heartbeat, LicenseSession.ended_at))
        ).one()
    return as_utc(row[0]), row[1]


async def test_heartbeats_are_batched_only_far_from_the_timeout(
    client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str], answered: Answers
) -> None:
    """A live session's heartbeat is written by the bookkeeping within seconds; one so close to
    the timeout (90 s by default) that the expiry job could end the session first is written at
    once, by the route; an ended session is never revived by a batched write."""
    lic = await create_license(runtime)
    device = {"license_key": lic.license_key, "hardware_hash": HW}
    await client.post("/api/license/activate", json=device, headers=key_headers)
    started = await client.post("/api/license/session/start", json=device, headers=key_headers)
    beat = {"session_token": started.json()["session_token"], "license_key": lic.license_key}

    async def last_heartbeat_ago(seconds: float) -> dt.datetime:
        at = utc_now() - dt.timedelta(seconds=seconds)
        async with runtime.database.session() as session:
            await session.execute(update(LicenseSession).values(last_heartbeat=at))
        return at

    far = await last_heartbeat_ago(30)
    before = answered.count
    assert (await client.post(HEARTBEAT, json=beat, headers=key_headers)).status_code == 200
    assert answered.count == before + 1
    assert (await _session_heartbeat(runtime))[0] == far  # not yet: buffered
    await touches.flush()
    assert (await _session_heartbeat(runtime))[0] > far + dt.timedelta(seconds=25)

    near = await last_heartbeat_ago(80)  # 10 s before the timeout: within the margin
    before = answered.count
    assert (await client.post(HEARTBEAT, json=beat, headers=key_headers)).status_code == 200
    assert answered.count == before  # the route answered
    assert (await _session_heartbeat(runtime))[0] > near + dt.timedelta(seconds=75)

    await last_heartbeat_ago(30)
    assert (await client.post(HEARTBEAT, json=beat, headers=key_headers)).status_code == 200
    ended = await client.post(
        "/api/license/session/end",
        json={"session_token": beat["session_token"]},
        headers=key_headers,
    )
    assert ended.status_code == 200
    await touches.flush()  # the buffered heartbeat arrives after the end: it is dropped
    last, ended_at = await _session_heartbeat(runtime)
    assert ended_at is not None
    assert last < as_utc(ended_at) - dt.timedelta(seconds=25)
    gone = await client.post(HEARTBEAT, json=beat, headers=key_headers)
    assert gone.status_code == 409
