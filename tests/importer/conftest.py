from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from typer.testing import CliRunner

from stellwerk.cli.main import app as cli
from stellwerk.runtime import Runtime
from tests.provider.compute.conftest import compute_sandboxes
from tests.provider.running import Sandboxes, provider_sandboxes

__all__ = ["compute_sandboxes"]

runner = CliRunner()


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime) -> AsyncIterator[Sandboxes]:
    async with provider_sandboxes() as running:
        yield running


def _env(runtime: Runtime) -> dict[str, str]:
    settings = runtime.settings
    return {
        "STELLWERK_DATA_DIR": str(settings.data_dir),
        "STELLWERK_SECRET_KEY": settings.secret_key.get_secret_value()
        if settings.secret_key
        else "",
        "STELLWERK_DATABASE_URL": settings.database_url or "",
        "STELLWERK_SANDBOX": "false",
        "STELLWERK_MODULES_DIR": str(settings.resolved_modules_root),
    }


async def run(runtime: Runtime, *args: str) -> Any:
    """A `stellwerk` command on the test database; its `--json` output."""
    result = await asyncio.to_thread(runner.invoke, cli, [*args, "--json"], env=_env(runtime))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def run_text(runtime: Runtime, *args: str) -> str:
    """A `stellwerk` command on the test database; what it prints for people."""
    result = await asyncio.to_thread(runner.invoke, cli, list(args), env=_env(runtime))
    assert result.exit_code == 0, result.output
    return str(result.output)
