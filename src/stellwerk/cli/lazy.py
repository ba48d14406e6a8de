"""Command groups imported when they run, so that `stellwerk --help` starts at once.

The top-level help lists each group from a one-line summary kept here; a group's module (and
what it imports: the web framework, the database, provider SDKs) is imported only when that
group is run or its own help is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer
from typer import _click as click  # the click Typer is built on (it carries its own copy)
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """`module:attribute`, a `typer.Typer` group or a plain command function."""

    target: str
    summary: str

    def load(self, name: str) -> click.Command:
        module, _, attribute = self.target.partition(":")
        found: Any = getattr(import_module(module), attribute)
        if isinstance(found, typer.Typer):
            command: click.Command = typer.main.get_group(found)
        else:
            single = typer.Typer()
            single.command(name)(found)
            command = typer.main.get_command(single)
        command.name = name
        return command


class LazyGroup(TyperGroup):
    """A Typer group whose `lazy` subcommands are imported on first use."""

    lazy: dict[str, Lazy] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None or cmd_name not in self.lazy:
            return loaded
        entry = self.lazy[cmd_name]
        if self._listing:  # the top-level help: the summary, nothing imported
            return TyperCommand(cmd_name, help=entry.summary, short_help=entry.summary)
        command = entry.load(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
