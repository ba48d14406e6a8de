from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from stellwerk.runtime import Runtime
from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database
from tests.process import base_env
from tests.provider.dns import pdns_server
from tests.provider.running import Sandboxes, provider_sandboxes


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandboxes]:
    monkeypatch.setattr(runtime.settings, "project_poll_seconds", 0.2)
    monkeypatch.setattr(runtime.settings, "project_health_timeout_seconds", 5.0)
    monkeypatch.setattr(runtime.settings, "project_deploy_timeout_seconds", 60.0)
    async with provider_sandboxes() as running:
        yield running


@pytest.fixture(scope="session")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pdns_server.PowerDns]:
    if not pdns_server.available():
        pytest.skip("pdns_server is not installed (scripts/install-system-deps)")
    with pdns_server.running_powerdns(Path(tmp_path_factory.mktemp("pdns-projects"))) as server:
        yield server


@pytest.fixture
def with_powerdns(
    runtime: Runtime, powerdns: pdns_server.PowerDns, monkeypatch: pytest.MonkeyPatch
) -> pdns_server.PowerDns:
    monkeypatch.setattr(runtime.settings, "powerdns_api_url", powerdns.api_url)
    monkeypatch.setattr(runtime.settings, "powerdns_api_key", SecretStr(powerdns.api_key))
    return powerdns


@pytest_asyncio.fixture
async def serve_env(backend: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    database_url = None
    name = f"stellwerk_proj_{uuid.uuid4().hex[:8]}"
    if backend == "postgresql":
        await _recreate_database(name)
        database_url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    env = base_env(tmp_path / "var", database_url)
    env["STELLWERK_PROJECT_POLL_SECONDS"] = "0.5"
    env["STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS"] = "2"
    yield env
    if backend == "postgresql":
        await _drop_database(name)
