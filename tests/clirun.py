"""Running `stellwerk` commands in-process against the test app on a real loopback port, the
way they talk to `stellwerk serve`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from stellwerk.cli.main import app as cli
from stellwerk.models import User
from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_token
from tests.live import live_server

runner = CliRunner()


class Cli:
    """`await cli("ops", "list")`: the command's result; `await cli.json(...)`: its JSON."""

    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = env

    async def __call__(self, *args: str, input: str | None = None) -> Result:
        return await asyncio.to_thread(
            runner.invoke, cli, list(args), input=input, env=self.env, catch_exceptions=False
        )

    async def json(self, *args: str, input: str | None = None) -> Any:
        result = await self(*args, "--json", input=input)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def env_for(url: str, token: str | None, config: Path) -> dict[str, str | None]:
    return {
        "STELLWERK_URL": url,
        "STELLWERK_TOKEN": token,
        "STELLWERK_CLI_CONFIG": str(config),
        "COLUMNS": "200",
    }


@asynccontextmanager
async def cli_for(
    app: FastAPI, tmp_path: Path, user: User | None = None, scopes: tuple[str, ...] = ("admin",)
) -> AsyncIterator[Cli]:
    """The CLI logged in (through `STELLWERK_TOKEN`) as `user`, an admin by default."""
    runtime: Runtime = app.state.runtime
    owner = user or await create_admin(runtime)
    token = await create_token(runtime, owner, scopes, name="cli")
    async with live_server(app) as url:
        yield Cli(env_for(url, token, tmp_path / "cli.toml"))
