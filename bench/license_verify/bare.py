"""The bare reference: raw ASGI + asyncpg + orjson, nothing else.

The leanest Python answering the same three license client calls on the same database: the API
key digest lives in memory (read once at start), no rate limit, no metrics, no logging. Verify runs
the same LEFT JOIN as Stellwerk's fast path and answers with the same body; activate (an already
activated device) and heartbeat are their leanest SQL equivalents. Served by granian like
Stellwerk: `granian --interface asgi bare:app` with `BENCH_DSN` set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

DSN = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY_PATTERN = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$")
VERIFY_SQL = """
SELECT l.license_key, l.license_type, l.valid_from, l.valid_until, l.max_users, l.is_active,
       a.id, a.is_active, a.last_heartbeat
FROM licenses l
LEFT JOIN license_activations a ON a.license_id = l.id AND a.hardware_hash = $2
WHERE l.license_key = $1
"""
ACTIVATE_SQL = """
UPDATE license_activations a
SET machine_name = COALESCE($3, a.machine_name), app_version = COALESCE($4, a.app_version),
    last_heartbeat = now()
FROM licenses l
WHERE l.license_key = $1 AND a.license_id = l.id AND a.hardware_hash = $2 AND a.is_active
  AND l.is_active
RETURNING a.id, a.hardware_hash, a.machine_name, a.activated_at, a.last_heartbeat, a.is_active
"""
HEARTBEAT_SQL = """
UPDATE license_sessions s SET last_heartbeat = now()
FROM licenses l, client_configs c
WHERE s.token_hash = $1 AND s.ended_at IS NULL AND l.id = s.license_id AND l.license_key = $2
  AND c.id = s.client_config_id
RETURNING s.last_heartbeat, c.heartbeat_interval
"""

state: dict[str, Any] = {}
JSON = [(b"content-type", b"application/json")]


async def _no_reset(_connection: Any) -> None:
    return None


def _z(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


async def _send(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            pool = await asyncpg.create_pool(DSN, min_size=10, max_size=10, reset=_no_reset)
            state["pool"] = pool
            rows = await pool.fetch("SELECT key_hash FROM system_api_keys WHERE revoked_at IS NULL")
            state["digest"] = rows[0][0]
            latest = await pool.fetchrow(
                "SELECT version, min_supported_version FROM releases WHERE channel = 'stable'"
                " ORDER BY id DESC LIMIT 1"
            )
            state["latest"] = (latest[0], latest[1])
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    api_key = b""
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            api_key = value
    digest = hashlib.sha256(api_key).hexdigest()
    if not hmac.compare_digest(digest, state["digest"]):
        await _send(send, 401, {"error": "Invalid or missing API key", "code": "INVALID_API_KEY"})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        await _send(send, 422, {"error": "bad json"})
        return
    path = scope["path"]
    pool = state["pool"]
    if path == "/api/license/session/heartbeat":
        beat = await pool.fetchrow(
            HEARTBEAT_SQL,
            hashlib.sha256(data["session_token"].encode()).hexdigest(),
            data["license_key"],
        )
        if beat is None:
            await _send(send, 404, {"error": "Session not found"})
            return
        await _send(
            send,
            200,
            {"success": True, "last_heartbeat": _z(beat[0]), "next_heartbeat_in": beat[1]},
        )
        return
    key = data.get("license_key")
    hardware = data.get("hardware_hash")
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or not hardware:
        await _send(send, 422, {"error": "invalid input"})
        return
    if path == "/api/license/activate":
        row = await pool.fetchrow(
            ACTIVATE_SQL, key, hardware, data.get("machine_name"), data.get("app_version")
        )
        if row is None:
            await _send(send, 404, {"error": "License not found"})
            return
        activation = {
            "id": row[0],
            "license_key": key,
            "hardware_hash": row[1],
            "machine_name": row[2],
            "activated_at": _z(row[3]),
            "last_heartbeat": _z(row[4]),
            "is_active": row[5],
        }
        await _send(
            send,
            200,
            {
                "message": "License is already activated on this device",
                "activation": activation,
                "already_activated": True,
            },
        )
        return
    row = await pool.fetchrow(VERIFY_SQL, key, hardware)
    if row is None:
        await _send(send, 404, {"error": "License not found"})
        return
    license_key, license_type, valid_from, valid_until, max_users, is_active = row[:6]
    today = dt.datetime.now(dt.UTC).date()
    reason = None
    if not is_active:
        reason = "inactive"
    elif valid_from > today:
        reason = "not_yet_valid"
    elif valid_until is not None and valid_until < today:
        reason = "expired"
    elif not row[7]:
        reason = "not_activated"
    version, minimum = state["latest"]
    await _send(
        send,
        200,
        {
            "valid": reason is None,
            "message": "License is valid" if reason is None else reason,
            "reason": reason,
            "license": {
                "key": license_key,
                "type": license_type,
                "valid_until": valid_until,
                "max_users": max_users,
            },
            "update_available": data.get("app_version") != version,
            "latest_version": version,
            "min_supported_version": minimum,
        },
    )
