from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from stellwerk.runtime import Runtime
from tests.provider.dns import pdns_server
from tests.provider.running import Sandboxes, provider_sandboxes


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime) -> AsyncIterator[Sandboxes]:
    async with provider_sandboxes() as running:
        yield running


@pytest.fixture(scope="session")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns_server.PowerDns]:
    if not pdns_server.available():
        pytest.skip("pdns_server is not installed (scripts/install-system-deps)")
    with pdns_server.running_powerdns(Path(tmp_path_factory.mktemp("pdns-api"))) as server:
        yield server


@pytest.fixture
def with_powerdns(
    runtime: Runtime, powerdns: pdns_server.PowerDns, monkeypatch: pytest.MonkeyPatch
) -> pdns_server.PowerDns:
    monkeypatch.setattr(runtime.settings, "powerdns_api_url", powerdns.api_url)
    from pydantic import SecretStr

    monkeypatch.setattr(runtime.settings, "powerdns_api_key", SecretStr(powerdns.api_key))
    return powerdns
