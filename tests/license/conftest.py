from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI

from stellwerk.client.license import LicenseClient
from stellwerk.license import service as license_service
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, create_api_key
from tests.license.factories import ensure_default_client


@pytest_asyncio.fixture
async def api_key(runtime: Runtime) -> str:
    license_service.catalog.invalidate()
    await ensure_default_client(runtime)
    return await create_api_key(runtime)


@pytest_asyncio.fixture
async def key_headers(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}


@pytest_asyncio.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    return await admin_headers(runtime)


@pytest_asyncio.fixture
async def license_client(app: FastAPI, api_key: str) -> AsyncIterator[LicenseClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with LicenseClient("http://testserver", api_key, transport=transport) as client:
        yield client
