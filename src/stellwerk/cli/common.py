"""What every command shares: output, suggestions, and for the commands that work on the
database without the server (`serve`, `migrate`, `admin create`, ...), settings with flag
overrides and a database session."""

from __future__ import annotations

import difflib
import inspect
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from stellwerk.config import Settings
    from stellwerk.runtime import Runtime

T = TypeVar("T")

console = Console(stderr=True)
out = Console()


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a one-line message per wrong variable (never its value) and exit 1."""
    from pydantic import ValidationError

    from stellwerk.config import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        fail("; ".join(_setting_error(detail) for detail in error.errors()))


def _setting_error(detail: Any) -> str:
    from stellwerk.config import env_name

    location = detail.get("loc") or ("settings",)
    name = str(location[0])
    name = name if name.isupper() else env_name(name)
    return f"{name} {str(detail.get('msg', 'is invalid')).removeprefix('Value error, ')}"


def load_startable_settings(**overrides: Any) -> Settings:
    """`load_settings` for commands that start a service: unsafe settings stop them here."""
    from stellwerk.config import refuse_unsafe
    from stellwerk.exceptions import StellwerkError

    settings = load_settings(**overrides)
    try:
        refuse_unsafe(settings)
    except StellwerkError as error:
        fail(error.message)
    return settings


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    from stellwerk import migrate
    from stellwerk.operation import engine
    from stellwerk.runtime import Runtime

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
    import asyncio

    from stellwerk.exceptions import StellwerkError

    async def main() -> T:
        async with open_runtime(settings) as runtime, runtime.database.session() as session:
            return await work(runtime, session)

    try:
        return asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)


def fail(message: str, code: int = 1, *, as_json: bool = False) -> NoReturn:
    """End the command with one line (a JSON object on standard output with `--json`)."""
    if as_json:
        from stellwerk.cli.client import CliError, report

        report(CliError(message, exit_code=code), as_json=True)
    console.print(
        f"[red]error:[/red] {message}", soft_wrap=True, highlight=False
    )  # one line, for logs too
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def help_in_words() -> None:
    """Help names what a value is (`--scope SCOPE`), never its Python type (`<str>`): an option
    shows its metavar (or its name in capitals), a flag or an argument nothing beside its name.
    Typer has no setting for this, so its one hook for the type column is replaced."""
    from typer.core import TyperArgument, TyperOption

    def option_word(self: TyperOption, ctx: object) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or (self.name or "value").upper()

    def argument_word(self: TyperArgument, ctx: object) -> str | None:
        return None

    TyperOption.display_type_rich = option_word  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_word  # type: ignore[method-assign,assignment]
    _one_line_summaries()


def _one_line_summaries() -> None:
    """A command's line in its group's help is its docstring's first paragraph as one line:
    Typer's rich help keeps the docstring's line breaks there, which breaks the text mid-sentence.
    Its help module is patched when help is first shown (importing it costs every command)."""
    from typer.core import TyperCommand, TyperGroup

    def patch() -> None:
        from typer import rich_utils

        original = rich_utils._make_command_help
        if getattr(original, "one_line", False):
            return

        def summary(*, help_text: str, markup_mode: Any) -> Any:
            first, _, rest = inspect.cleandoc(help_text).partition("\n\n")
            joined = " ".join(first.split("\n")) + (f"\n\n{rest}" if rest else "")
            return original(help_text=joined, markup_mode=markup_mode)

        summary.one_line = True  # type: ignore[attr-defined]
        rich_utils._make_command_help = summary

    for cls in (TyperGroup, TyperCommand):
        shown = cls.format_help

        def format_help(self: Any, ctx: Any, formatter: Any, _shown: Any = shown) -> None:
            patch()
            _shown(self, ctx, formatter)

        cls.format_help = format_help  # type: ignore[method-assign]


def suggest(value: str, choices: Iterable[str]) -> str:
    """`did you mean` with the closest valid choices, else all of them."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.5)
    if close:
        return f"did you mean {' or '.join(close)}?"
    return f"choose from {', '.join(options)}"


def check_choice(option: str, value: str, choices: Iterable[str], *, as_json: bool = False) -> None:
    """Refuse a value outside `choices`, naming the closest valid ones."""
    options = set(choices)
    if value not in options:
        fail(f"{option}: unknown value {value!r}; {suggest(value, options)}", as_json=as_json)


DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Directory for the SQLite database and state.",
    envvar="STELLWERK_DATA_DIR",
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table (errors too).")


def data_dir_override(data_dir: Path | None) -> dict[str, Any]:
    return {"data_dir": data_dir} if data_dir is not None else {}
