from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from stellwerk.provider.paas.coolify.adapter import CoolifyPaas
from stellwerk.provider.paas.coolify.sandbox import create_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


@pytest_asyncio.fixture
async def coolify_sandbox() -> AsyncIterator[RunningSandbox]:
    sandbox = await start_server(create_app(None), name="coolify", suffix="/api/v1")
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{sandbox.port}/__sandbox__/deployments",
            json={"queue_seconds": 0.2, "build_seconds": 0.4},
        )
    yield sandbox
    await sandbox.stop()


@pytest_asyncio.fixture
async def coolify(coolify_sandbox: RunningSandbox) -> AsyncIterator[CoolifyPaas]:
    paas = CoolifyPaas(api_url=coolify_sandbox.url, token="sandbox-token", poll_interval=0.1)
    paas.http.backoff = lambda _n: 0.05
    yield paas
    await paas.aclose()
