from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from stellwerk.provider.registrar.inwx.adapter import InwxClient, InwxRegistrar
from stellwerk.provider.registrar.inwx.sandbox import create_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


@pytest_asyncio.fixture
async def inwx_sandbox() -> AsyncIterator[RunningSandbox]:
    sandbox = await start_server(create_app(None), name="inwx")
    yield sandbox
    await sandbox.stop()


@pytest_asyncio.fixture
async def inwx(inwx_sandbox: RunningSandbox) -> AsyncIterator[InwxRegistrar]:
    registrar = InwxRegistrar(
        InwxClient(username="sandbox-user", password="sandbox-password", api_url=inwx_sandbox.url)
    )
    yield registrar
    await registrar.aclose()
