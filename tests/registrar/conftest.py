from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from stellwerk.runtime import Runtime
from tests.provider.running import Sandboxes, provider_sandboxes


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandboxes]:
    monkeypatch.setenv("STELLWERK_SANDBOX_INWX_TRANSFER_SECONDS", "0.5")
    async with provider_sandboxes() as running:
        yield running
