"""The live feed of module operations: only what the caller may see, and it ends once the
credential that opened it stops being valid."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import SESSION_COOKIE
from stellwerk.models import Operation, User
from stellwerk.operation.repository import OperationRepository
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for

RECHECK_SECONDS = 0.5


@pytest_asyncio.fixture
async def quick_recheck(runtime: Runtime) -> AsyncIterator[None]:
    saved = runtime.settings.module_events_recheck_seconds
    runtime.settings.module_events_recheck_seconds = RECHECK_SECONDS
    yield
    runtime.settings.module_events_recheck_seconds = saved


def _operation(owner: User | None, key: str) -> Operation:
    return Operation(
        kind="module.install",
        idempotency_key=key,
        owner_user_id=owner.id if owner else None,
        status="completed",  # nothing runs it; a finished one keeps the teardown short
        progress=100,
        message="Completed",
        input={"module_name": "v2_dashboard"},
        target_type="module",
        target_id="v2_dashboard",
    )


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


Ending = Callable[[Runtime, User, httpx.AsyncClient, dict[str, str]], Awaitable[None]]


async def _revoke_token(
    runtime: Runtime, user: User, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    tokens = (await client.get("/api/tokens", headers=bearer(jwt_for(runtime, user)))).json()
    (token,) = tokens["items"]
    revoked = await client.delete(
        f"/api/tokens/{token['id']}", headers=bearer(jwt_for(runtime, user))
    )
    assert revoked.status_code == 200, revoked.text


async def _deactivate_user(
    runtime: Runtime, user: User, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    admin = bearer(jwt_for(runtime, await create_admin(runtime)))
    response = await client.put(
        f"/api/admin/users/{user.id}", json={"is_active": False}, headers=admin
    )
    assert response.status_code == 200, response.text


async def _end_session(
    runtime: Runtime, user: User, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    cookie = headers["Cookie"].split("=", 1)[1]
    async with runtime.database.session() as session:
        await identity_service.web_session.destroy(session, cookie)


@pytest.mark.parametrize(
    ("credential", "ending"),
    [("token", _revoke_token), ("jwt", _deactivate_user), ("session", _end_session)],
)
async def test_a_staff_stream_shows_the_companys_operations_and_ends_with_its_credential(
    client: httpx.AsyncClient,
    runtime: Runtime,
    quick_recheck: None,
    credential: str,
    ending: Ending,
) -> None:
    admin = await create_admin(runtime)
    staff = await create_user(runtime, role="staff")
    async with runtime.database.session() as session:
        operations = OperationRepository(session)
        mine = await operations.add(_operation(staff, f"mine-{credential}"))
        theirs = await operations.add(_operation(admin, f"theirs-{credential}"))
    if credential == "token":
        headers = bearer(await create_token(runtime, staff, ["read:modules"]))
    elif credential == "jwt":
        headers = bearer(jwt_for(runtime, staff))
    else:
        async with runtime.database.session() as session:
            cookie, _ = await identity_service.web_session.create(
                session, staff, ip="127.0.0.1", expires_in=3600
            )
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}

    stream = asyncio.create_task(client.get("/modules/events", headers=headers))
    await asyncio.sleep(RECHECK_SECONDS * 3)
    assert not stream.done(), "the stream ended while its credential was still valid"
    await ending(runtime, staff, client, headers)
    response = await asyncio.wait_for(stream, timeout=RECHECK_SECONDS * 10)

    assert response.status_code == 200
    events = _events(response.text)
    shown = {body["operation_id"] for name, body in events if name == "operation"}
    # Staff see every operation, as on /api/operations (customers cannot read modules at all).
    assert shown == {str(mine.id), str(theirs.id)}
    name, body = events[-1]
    assert name == "end"
    assert body["code"] in ("invalid_token", "session_expired")


async def test_an_admin_stream_shows_every_module_operation(
    client: httpx.AsyncClient, runtime: Runtime, quick_recheck: None
) -> None:
    admin = await create_admin(runtime)
    staff = await create_user(runtime, role="staff")
    async with runtime.database.session() as session:
        operations = OperationRepository(session)
        theirs = await operations.add(_operation(staff, "admin-sees-staff"))
        system = await operations.add(_operation(None, "admin-sees-system"))
    login = bearer(jwt_for(runtime, admin))
    stream = asyncio.create_task(client.get("/modules/events", headers=login))
    await asyncio.sleep(RECHECK_SECONDS * 2)
    await _deactivate_user(runtime, admin, client, login)
    response = await asyncio.wait_for(stream, timeout=RECHECK_SECONDS * 10)
    shown = {body["operation_id"] for name, body in _events(response.text) if name == "operation"}
    assert shown == {str(theirs.id), str(system.id)}


async def test_a_customer_cannot_open_the_stream(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    customer = bearer(jwt_for(runtime, await create_user(runtime)))
    response = await client.get("/modules/events", headers=customer)
    assert response.status_code == 403
    assert response.json()["required"] == "read:modules"
