"""`stellwerk sandbox`: every provider sandbox alone, without the API."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from rich.panel import Panel

from stellwerk.cli.common import (
    DataDirOption,
    console,
    data_dir_override,
    load_settings,
    print_json,
)
from stellwerk.provider import registry

PORT_HELP = (
    "Base port: "
    + ", ".join(
        f"{entry.title} listens on +{entry.sandbox.port_offset}"
        for entry in registry.with_sandbox()
        if entry.sandbox is not None
    )
    + " (0: any free ports)."
)


def sandbox_command(
    port: int | None = typer.Option(
        None,
        "--port",
        help=PORT_HELP,
        envvar="STELLWERK_SANDBOX_PORT",
    ),
    persist: bool = typer.Option(
        True, "--persist/--no-persist", help="Keep sandbox state in the data directory."
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the base URLs as JSON."),
) -> None:
    """Run all provider sandboxes on loopback until interrupted (Ctrl-C). Needs no running
    server."""
    import asyncio

    from stellwerk.provider.sandbox.listener import start_all

    settings = load_settings(sandbox_port=port, **data_dir_override(data_dir))

    async def main() -> None:
        running = await start_all(settings, persist=persist)
        urls = {sandbox.name: sandbox.url for sandbox in running}
        if as_json:
            print_json(urls)
        else:
            lines = [f"{name:<13}{url}" for name, url in urls.items()]
            lines.append("Tokens and logins beginning with `sandbox-` are accepted.")
            console.print(Panel("\n".join(lines), title="Provider sandboxes", border_style="cyan"))
        try:
            await asyncio.Event().wait()
        finally:
            for sandbox in running:
                await sandbox.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
