"""The bare reference on SQLite: raw ASGI + the sqlite3 module + orjson, nothing else.

The leanest Python answering the three license client calls from the same SQLite file as
Stellwerk: the API key digest and the latest release read once at start, no rate limit, metrics,
logs or bookkeeping writes. Each call is the same lookup Stellwerk's fast path makes (verify and
activate: the license with this device's activation, one LEFT JOIN over two unique indexes;
heartbeat: the session with its license and client settings) and answers the same body.
Served like `stellwerk serve` serves its API: uvicorn, uvloop, httptools, one process.

    BENCH_SQLITE=var/stellwerk.sqlite uvicorn --app-dir bench/default bare_sqlite:app
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import sqlite3
from typing import Any

import orjson

PATH = os.environ.get("BENCH_SQLITE", "stellwerk.sqlite")
KEY_PATTERN = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$")
DEVICE_SQL = """
SELECT l.license_key, l.license_type, l.valid_from, l.valid_until, l.max_users, l.is_active,
       a.id, a.is_active, a.hardware_hash, a.machine_name, a.activated_at
FROM licenses l
LEFT JOIN license_activations a ON a.license_id = l.id AND a.hardware_hash = ?
WHERE l.license_key = ?
"""
SESSION_SQL = """
SELECT s.last_heartbeat, s.ended_at, l.license_key, c.heartbeat_interval
FROM license_sessions s
JOIN licenses l ON l.id = s.license_id
JOIN client_configs c ON c.id = s.client_config_id
WHERE s.token_hash = ?
"""
JSON = [(b"content-type", b"application/json")]
state: dict[str, Any] = {}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


async def _send(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body, option=orjson.OPT_UTC_Z)
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            connection = sqlite3.connect(PATH, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA query_only = ON")
            state["db"] = connection
            state["digest"] = connection.execute(
                "SELECT key_hash FROM system_api_keys WHERE revoked_at IS NULL"
            ).fetchall()[0][0]
            state["latest"] = connection.execute(
                "SELECT version, min_supported_version FROM releases WHERE channel = 'stable'"
                " ORDER BY id DESC LIMIT 1"
            ).fetchall()[0]
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state["db"].close()
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
    if not hmac.compare_digest(hashlib.sha256(api_key).hexdigest(), state["digest"]):
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
    db: sqlite3.Connection = state["db"]
    now = dt.datetime.now(dt.UTC)
    if scope["path"] == "/api/license/session/heartbeat":
        token_hash = hashlib.sha256(data["session_token"].encode()).hexdigest()
        rows = db.execute(SESSION_SQL, (token_hash,)).fetchall()
        if not rows or rows[0][1] is not None or rows[0][2] != data["license_key"]:
            await _send(send, 404, {"error": "Session not found"})
            return
        body = {"success": True, "last_heartbeat": now, "next_heartbeat_in": rows[0][3]}
        await _send(send, 200, body)
        return
    key, hardware = data.get("license_key"), data.get("hardware_hash")
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or not hardware:
        await _send(send, 422, {"error": "invalid input"})
        return
    rows = db.execute(DEVICE_SQL, (hardware, key)).fetchall()
    if not rows:
        await _send(send, 404, {"error": "License not found"})
        return
    license_key, license_type, valid_from, valid_until, max_users, is_active = rows[0][:6]
    activation_id, activation_active, hardware_hash, machine_name, activated_at = rows[0][6:]
    today = now.date()
    until = dt.date.fromisoformat(valid_until) if valid_until else None
    reason = None
    if not is_active:
        reason = "inactive"
    elif dt.date.fromisoformat(valid_from) > today:
        reason = "not_yet_valid"
    elif until is not None and until < today:
        reason = "expired"
    elif not activation_active:
        reason = "not_activated"
    if scope["path"] == "/api/license/activate":
        if reason is not None:
            await _send(send, 403, {"error": reason})
            return
        activation = {
            "id": activation_id,
            "license_key": license_key,
            "hardware_hash": hardware_hash,
            "machine_name": machine_name,
            "activated_at": _utc(activated_at),
            "last_heartbeat": now,
            "is_active": True,
        }
        body = {
            "message": "License is already activated on this device",
            "activation": activation,
            "already_activated": True,
        }
        await _send(send, 200, body)
        return
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
                "valid_until": until,
                "max_users": max_users,
            },
            "update_available": data.get("app_version") != version,
            "latest_version": version,
            "min_supported_version": minimum,
        },
    )
