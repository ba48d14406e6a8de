"""Forms that create a secret answer with a redirect: the secret is shown once on the page it
leads to, never in a URL, and reloading creates nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from stellwerk.models import ApiToken
from stellwerk.runtime import Runtime
from stellwerk.web.reveal import REVEAL_COOKIE
from tests.factories import create_admin, create_user
from tests.web.test_router import log_in

TOKEN = re.compile(r'id="new-token" class="secret">(nrx_[0-9a-f]{64})<')
KEY = re.compile(r'id="new-key" class="secret">(AF-\d{4}-[A-Za-z0-9]{32})<')


@pytest_asyncio.fixture
async def other_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _tokens_of(runtime: Runtime, user_id: int) -> int:
    async with runtime.database.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id)
            )
            or 0
        )


async def test_a_new_token_is_shown_once_and_a_reload_creates_none(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await create_user(runtime)
    csrf = await log_in(client, user.username)
    created = await client.post(
        "/ui/tokens",
        data={"csrf_token": csrf, "name": "deploy", "scopes": ["read:servers"]},
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/ui/tokens"  # nothing secret in the URL
    stashed = client.cookies.get(REVEAL_COOKIE)
    assert stashed
    assert "nrx_" not in stashed

    # Another browser holding the cookie (but not the session) sees nothing.
    other = await create_user(runtime)
    await log_in(other_client, other.username)
    other_client.cookies.set(REVEAL_COOKIE, stashed, path="/ui/tokens")
    assert not TOKEN.search((await other_client.get("/ui/tokens")).text)

    page = await client.get("/ui/tokens")
    match = TOKEN.search(page.text)
    assert match, page.text
    assert page.headers["cache-control"] == "no-store"
    # Reloading shows the list without the secret and creates no second token.
    again = await client.get("/ui/tokens")
    assert match.group(1) not in again.text
    assert "deploy" in again.text
    assert await _tokens_of(runtime, user.id) == 1
    used = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {match.group(1)}"})
    assert used.status_code == 200


async def test_a_refused_token_keeps_the_form(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await create_user(runtime)
    csrf = await log_in(client, user.username)
    refused = await client.post("/ui/tokens", data={"csrf_token": csrf, "name": "no scopes"})
    assert refused.status_code == 422
    assert 'id="scopes-error"' in refused.text
    assert await _tokens_of(runtime, user.id) == 0


async def test_a_rotated_key_is_shown_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await create_admin(runtime)
    csrf = await log_in(client, admin.username)
    rotated = await client.post("/ui/api-key/rotate", data={"csrf_token": csrf})
    assert rotated.status_code == 303
    assert rotated.headers["location"] == "/ui/api-key"
    page = await client.get("/ui/api-key")
    match = KEY.search(page.text)
    assert match, page.text
    assert match.group(1) not in (await client.get("/ui/api-key")).text
