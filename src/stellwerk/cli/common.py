"""What every command shares: settings with flag overrides, a database session, output."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk import migrate
from stellwerk.config import Settings, env_name, refuse_unsafe
from stellwerk.exceptions import StellwerkError
from stellwerk.operation import engine
from stellwerk.runtime import Runtime

T = TypeVar("T")

console = Console(stderr=True)
out = Console()


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a one-line message per wrong variable (never its value) and exit 1."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        fail("; ".join(_setting_error(detail) for detail in error.errors()))


def _setting_error(detail: Any) -> str:
    location = detail.get("loc") or ("settings",)
    name = str(location[0])
    name = name if name.isupper() else env_name(name)
    return f"{name} {str(detail.get('msg', 'is invalid')).removeprefix('Value error, ')}"


def load_startable_settings(**overrides: Any) -> Settings:
    """`load_settings` for commands that start a service: unsafe settings stop them here."""
    settings = load_settings(**overrides)
    try:
        refuse_unsafe(settings)
    except StellwerkError as error:
        fail(error.message)
    return settings


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.from_settings(settings)
    engine.configure(settings)
    try:
        await migrate.upgrade_async(settings.resolved_database_url)
        yield runtime
    finally:
        engine.close_client()
        await runtime.close()


def run_in_session(settings: Settings, work: Callable[[Runtime, AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction; a `StellwerkError` becomes a clear message and exit 1."""

    async def main() -> T:
        async with open_runtime(settings) as runtime, runtime.database.session() as session:
            return await work(runtime, session)

    try:
        return asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)  # one line, for logs too
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Directory for the SQLite database and state.",
    envvar="STELLWERK_DATA_DIR",
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def data_dir_override(data_dir: Path | None) -> dict[str, Any]:
    return {"data_dir": data_dir} if data_dir is not None else {}
