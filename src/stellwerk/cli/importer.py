"""`stellwerk import <source>`: bring the data of another system along (see docs/moving-in.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    console,
    data_dir_override,
    fail,
    load_settings,
    open_runtime,
    out,
    print_json,
)

if TYPE_CHECKING:
    from stellwerk.importer.frame import Importer, Report

import_app = typer.Typer(
    help="Bring the data of the systems Stellwerk replaces along: a dry run first, then the "
    "import; running it again changes nothing. Works on the database directly; needs no running "
    "server.",
    no_args_is_help=True,
)

# A dry run unless asked: every import is first seen as a report.
DryRunOption = typer.Option(
    True,
    "--dry-run/--apply",
    help="--dry-run (the default) reports what the import would do and changes nothing; "
    "--apply imports.",
)
DetailOption = typer.Option(
    False, "--details", help="List every object, not only those skipped for a reason or refused."
)


def show_report(report: Report, *, as_json: bool, details: bool = False) -> None:
    """The summary (and the objects worth a look) of one run, or all of it as JSON."""
    from stellwerk.importer.frame import Action

    if as_json:
        print_json(report.as_dict())
        return
    title = "Dry run: nothing was changed" if report.dry_run else "Import"
    table = Table(*("entity", *(a.value for a in Action)), title=f"{title} ({report.source})")
    for entity, numbers in report.counts().items():
        table.add_row(entity, *(str(numbers[a.value]) for a in Action))
    out.print(table)
    notable = [
        e
        for e in report.entries
        if details
        or e.action is Action.REFUSE
        or (e.action is Action.SKIP and e.reason != "unchanged")
    ]
    if notable:
        listing = Table("entity", "key", "action", "reason")
        for entry in notable:
            listing.add_row(entry.entity, entry.key, entry.action.value, entry.reason or "")
        out.print(listing)
    verb = "would change" if report.dry_run else "changed"
    out.print(f"{report.changes} object(s) {verb}.")


def run_importer(
    make: Callable[[], Importer],
    *,
    data_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    details: bool = False,
) -> Report:
    """Open Stellwerk's database, run the importer `make` builds, print its report."""
    from stellwerk.exceptions import StellwerkError
    from stellwerk.importer import frame

    settings = load_settings(**data_dir_override(data_dir))

    def progress(message: str) -> None:
        if not as_json:
            console.print(message)

    async def main() -> Report:
        async with open_runtime(settings) as runtime:
            return await frame.run(runtime.database, make(), dry_run=dry_run, progress=progress)

    import asyncio

    try:
        report = asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)
    show_report(report, as_json=as_json, details=details)
    return report


@import_app.command("nexredirect")
def import_nexredirect(
    sqlite: Path = typer.Option(
        ..., "--sqlite", help="NexRedirect's database file (data/nexredirect.db); read only."
    ),
    owner: str | None = typer.Option(
        None,
        "--owner",
        help="Stellwerk user who owns what no imported user created (default: the first admin).",
    ),
    batch: int = typer.Option(
        5000, "--batch", min=1, max=100_000, help="Hits per transaction.", hidden=True
    ),
    dry_run: bool = DryRunOption,
    details: bool = DetailOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Users, API tokens, groups, domains with their settings, and hits from NexRedirect. Works on
    the database directly; needs no running server."""
    from stellwerk.importer.nexredirect import NexRedirectImporter

    run_importer(
        lambda: NexRedirectImporter(sqlite, owner=owner, batch=batch),
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
        details=details,
    )


@import_app.command("v2")
def import_v2(
    database_url: str = typer.Option(
        ...,
        "--database-url",
        help="The V2 license server's PostgreSQL, e.g. postgresql://user:pw@host/v2_db; "
        "read in a read-only transaction.",
        envvar="STELLWERK_IMPORT_V2_DATABASE_URL",
    ),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        help="TOML file naming the V2 tables and columns where they differ from the defaults "
        "(docs/moving-in.md).",
    ),
    dry_run: bool = DryRunOption,
    details: bool = DetailOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """The system API key, client configurations, customers, licenses, devices, open sessions,
    versions, resources and leads from the V2 license server. Works on the database directly;
    needs no running server."""
    from stellwerk.importer.v2 import V2Importer

    run_importer(
        lambda: V2Importer(database_url, mapping=mapping),
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
        details=details,
    )


PassphraseOption = typer.Option(
    None,
    "--passphrase",
    help="Encrypts (export) or opens (import) the secrets; asked for when left out.",
    envvar="STELLWERK_EXPORT_PASSPHRASE",
)


@import_app.command("stellwerk")
def import_stellwerk(
    directory: Path = typer.Argument(..., help="A directory written by `stellwerk export`."),
    passphrase: str | None = PassphraseOption,
    dry_run: bool = DryRunOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Read an export of Stellwerk back: a restore, or the move to another database. Works on the
    database directly; needs no running server."""
    from stellwerk.importer.stellwerk import StellwerkImporter

    manifest = directory / "manifest.json"
    if passphrase is None and manifest.exists() and b'"secrets": true' in manifest.read_bytes():
        passphrase = typer.prompt("Passphrase of the export", hide_input=True)
    settings = load_settings(**data_dir_override(data_dir))
    run_importer(
        lambda: StellwerkImporter(directory, settings, passphrase=passphrase),
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
    )


def export_command(
    to: Path = typer.Option(..., "--to", help="Directory to write (created if missing)."),
    include_secrets: bool = typer.Option(
        False,
        "--include-secrets",
        help="Also password and token hashes and provider API keys, encrypted with a passphrase.",
    ),
    passphrase: str | None = PassphraseOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Write everything as JSON Lines, one file per table (see docs/moving-in.md). Works on the
    database directly; needs no running server."""
    from stellwerk.exceptions import StellwerkError
    from stellwerk.importer.stellwerk import export

    if include_secrets and passphrase is None:
        passphrase = typer.prompt(
            "Passphrase for the secrets", hide_input=True, confirmation_prompt=True
        )
    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> dict[str, object]:
        async with open_runtime(settings) as runtime:
            return await export(
                runtime.database,
                settings,
                to,
                passphrase=passphrase if include_secrets else None,
            )

    import asyncio

    try:
        manifest = asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)
    if as_json:
        print_json(manifest)
        return
    tables = manifest["tables"]
    assert isinstance(tables, dict)
    out.print(f"{sum(tables.values())} rows of {len(tables)} tables written to {to}.")
    if not include_secrets:
        out.print("Without secrets: users set new passwords, tokens and the API key are new.")
