from __future__ import annotations

import pytest_asyncio

from stellwerk.runtime import Runtime
from tests.factories import admin_headers


@pytest_asyncio.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    return await admin_headers(runtime)
