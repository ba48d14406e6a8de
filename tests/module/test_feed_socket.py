"""The WebSocket `/ws/module_feed`: operation progress and instance status as JSON messages,
opened with a token (header or subprotocol), a ticket or the UI session, and closed once its
credential is revoked."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from stellwerk.config import Settings
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import SESSION_COOKIE
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for
from tests.live import live_server

RECHECK_SECONDS = 0.5


@pytest_asyncio.fixture
async def base_url(app: FastAPI, runtime: Runtime) -> AsyncIterator[str]:
    saved = runtime.settings.module_events_recheck_seconds
    runtime.settings.module_events_recheck_seconds = RECHECK_SECONDS
    async with live_server(app) as url:
        yield url
    runtime.settings.module_events_recheck_seconds = saved


def _ws(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ws/module_feed"


async def _messages_until(
    socket: ClientConnection, done: Any, *, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Messages until `done(messages)` holds (or the socket closes)."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(received):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; got {received}"
        try:
            raw = await asyncio.wait_for(socket.recv(), timeout=remaining)
        except ConnectionClosed:
            break
        received.append(json.loads(raw))
    return received


async def _revoke(client: httpx.AsyncClient, runtime: Runtime, owner_jwt: str) -> None:
    tokens = (await client.get("/api/tokens", headers=bearer(owner_jwt))).json()
    for token in tokens["items"]:
        revoked = await client.delete(f"/api/tokens/{token['id']}", headers=bearer(owner_jwt))
        assert revoked.status_code == 200, revoked.text


def test_the_default_recheck_closes_a_revoked_feed_within_30_seconds() -> None:
    assert Settings(_env_file=None).module_events_recheck_seconds <= 30  # type: ignore[call-arg]


class TestModuleFeedSocket:
    async def test_a_token_sees_its_install_progress_and_the_new_instance_then_is_closed(
        self, base_url: str, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await create_admin(runtime)
        token = await create_token(runtime, admin, ["read:modules", "write:modules"])
        async with connect(_ws(base_url), additional_headers=bearer(token)) as socket:
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv()) == {"type": "pong"}
            started = await client.post(
                "/modules/install-instance",
                json={"module_name": "v2_dashboard"},
                headers=bearer(token),
            )
            assert started.status_code == 202, started.text
            operation_id = started.json()["operation_id"]

            def installed(messages: list[dict[str, Any]]) -> bool:
                ours = [m for m in messages if m.get("operation_id") == operation_id]
                running = [
                    m for m in messages if m["type"] == "instance" and m["status"] == "running"
                ]
                return bool(ours) and ours[-1]["status"] == "completed" and bool(running)

            messages = await _messages_until(socket, installed)
            ours = [m for m in messages if m.get("operation_id") == operation_id]
            statuses = [m["status"] for m in ours]
            assert statuses[0] == "queued"
            assert "running" in statuses
            assert statuses[-1] == "completed"
            running = [m["progress"] for m in ours if m["status"] == "running"]
            assert len(running) >= 2
            assert running == sorted(running)
            assert running[0] < running[-1]
            for message in ours:  # OperationResponse's fields, an event type and a timestamp
                assert {"operation_id", "status", "progress", "message", "module_name"} <= set(
                    message
                )
                assert message["type"] == "operation"
                assert message["timestamp"].endswith("Z")
                assert message["status_url"] == f"/modules/status/{operation_id}"
            instance = [m for m in messages if m["type"] == "instance"][-1]
            assert instance["module_name"] == "v2_dashboard"
            assert instance["status"] == "running"
            assert instance["is_primary"] is True
            assert {"instance_id", "path", "version", "frontend_url", "created_at"} <= set(instance)

            # An instance status change reaches the feed.
            stopped = await client.post(
                f"/modules/instance/v2_dashboard/{instance['instance_id']}/stop",
                headers=bearer(token),
            )
            assert stopped.status_code == 202, stopped.text
            changes = await _messages_until(
                socket,
                lambda ms: any(m["type"] == "instance" and m["status"] == "stopped" for m in ms),
            )
            assert any(m["type"] == "instance" and m["status"] == "stopped" for m in changes)

            # Revoking the token ends the feed with an `end` event and a policy close.
            revoked_at = time.monotonic()
            await _revoke(client, runtime, jwt_for(runtime, admin))
            tail = await _messages_until(socket, lambda ms: False, timeout=30)
            assert time.monotonic() - revoked_at < RECHECK_SECONDS * 10
            assert tail[-1]["type"] == "end"
            assert tail[-1]["code"] == "invalid_token"
            assert socket.close_code == 1008

    async def test_subprotocol_and_ticket_credentials(
        self, base_url: str, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await create_admin(runtime)
        token = await create_token(runtime, admin, ["read:modules"])
        async with connect(
            _ws(base_url), subprotocols=["stellwerk.module_feed", f"bearer.{token}"]
        ) as socket:  # type: ignore[list-item]
            assert socket.subprotocol == "stellwerk.module_feed"
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv())["type"] == "pong"

        issued = await client.post("/modules/feed-ticket", headers=bearer(token))
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["expires_in"] == 30
        assert body["url"] == f"/ws/module_feed?ticket={body['ticket']}"
        assert token not in body["ticket"]
        async with connect(f"{_ws(base_url)}?ticket={body['ticket']}") as socket:
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv())["type"] == "pong"
        with pytest.raises(InvalidStatus) as used:  # a ticket opens one feed, once
            async with connect(f"{_ws(base_url)}?ticket={body['ticket']}"):
                pass
        assert used.value.response.status_code == 401
        assert json.loads(used.value.response.body or b"{}")["code"] == "invalid_ticket"
        with pytest.raises(InvalidStatus) as forged:
            async with connect(f"{_ws(base_url)}?ticket=not-a-ticket"):
                pass
        assert forged.value.response.status_code == 401

        # A feed opened with a ticket ends when the token behind it is revoked.
        ticket = (await client.post("/modules/feed-ticket", headers=bearer(token))).json()
        async with connect(f"{_ws(base_url)}?ticket={ticket['ticket']}") as socket:
            await _revoke(client, runtime, jwt_for(runtime, admin))
            tail = await _messages_until(socket, lambda ms: False, timeout=30)
            assert tail[-1]["type"] == "end"
            assert socket.close_code == 1008

    async def test_the_ui_session_opens_the_feed_from_stellwerks_own_pages_only(
        self, base_url: str, runtime: Runtime
    ) -> None:
        staff = await create_user(runtime, role="staff")
        async with runtime.database.session() as session:
            cookie, _ = await identity_service.web_session.create(
                session, staff, ip="127.0.0.1", expires_in=600
            )
        host = base_url.removeprefix("http://")
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        async with connect(
            _ws(base_url), additional_headers=headers, origin=f"http://{host}"
        ) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await socket.recv())["type"] == "pong"
        with pytest.raises(InvalidStatus) as elsewhere:
            async with connect(
                _ws(base_url),
                additional_headers=headers,
                origin="https://evil.example",  # type: ignore[arg-type]
            ):
                pass
        assert elsewhere.value.response.status_code == 403
        assert json.loads(elsewhere.value.response.body or b"{}")["code"] == "origin_refused"

    async def test_refusals(self, base_url: str, runtime: Runtime) -> None:
        with pytest.raises(InvalidStatus) as anonymous:
            async with connect(_ws(base_url)):
                pass
        assert anonymous.value.response.status_code == 401
        customer = await create_user(runtime)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                _ws(base_url), additional_headers=bearer(jwt_for(runtime, customer))
            ):
                pass
        assert refused.value.response.status_code == 403
        assert json.loads(refused.value.response.body or b"{}")["code"] == "missing_scope"
        admin = await create_admin(runtime)
        other_scope = await create_token(runtime, admin, ["read:dns"])
        with pytest.raises(InvalidStatus) as scoped:
            async with connect(_ws(base_url), additional_headers=bearer(other_scope)):
                pass
        assert scoped.value.response.status_code == 403
