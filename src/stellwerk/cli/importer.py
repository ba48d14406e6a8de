"""`stellwerk import <source>`: bring the data of another system along (see docs/moving-in.md)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from stellwerk.importer.frame import Report
    from stellwerk.runtime import Runtime

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


WaitOption = typer.Option(
    True,
    "--wait/--no-wait",
    help="--wait (the default) follows the import's operation to its report; --no-wait starts "
    "it and ends: a running server's workers carry it out (`stellwerk ops show ID`).",
)
POLL_SECONDS = 0.3


def run_operation(
    source: str,
    parameters: dict[str, Any],
    *,
    data_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    wait: bool = True,
) -> dict[str, Any] | None:
    """Run one import as an operation (`import.<source>`) and wait for it; its report (None with
    `--no-wait`, after printing the operation's id).

    Without a workflow engine in this process, one is started for as long as the command waits:
    it takes work only from the imports' queue, and first goes on with an import an earlier run
    of the command left unfinished (a killed process)."""
    import asyncio

    from stellwerk import workflows
    from stellwerk.audit.actor import Actor
    from stellwerk.exceptions import StellwerkError
    from stellwerk.importer import service
    from stellwerk.importer.workflow import QUEUE
    from stellwerk.operation import engine
    from stellwerk.operation.repository import OperationRepository
    from stellwerk.operation.service import enqueue

    settings = load_settings(**data_dir_override(data_dir))

    def say(message: str) -> None:
        if not as_json:
            console.print(message, highlight=False)

    async def follow(runtime: Runtime, operation_id: uuid.UUID) -> dict[str, Any]:
        seen = 0
        while True:
            async with runtime.database.session() as session:
                repository = OperationRepository(session)
                operation = await repository.get(operation_id)
                events = await repository.events(operation_id, limit=10_000)
            if operation is None:
                raise LookupError(f"operation {operation_id} is gone")
            for event in events[seen:]:
                say(event.message)
            seen = len(events)
            if operation.status == "completed":
                return dict(operation.result or {})
            if operation.status in ("failed", "cancelled"):
                error = operation.error or {}
                fail(str(error.get("message") or operation.message), as_json=as_json)
            await asyncio.sleep(POLL_SECONDS)

    async def main() -> dict[str, Any] | None:
        async with open_runtime(settings) as runtime:
            own: engine.Engine | None = None
            if wait and not engine.is_launched():
                own = engine.configure(
                    settings.model_copy(update={"executor_id": f"{settings.executor_id}.import"}),
                    workflows.MODULES,
                )
                await own.launch(listen=[QUEUE])
            try:
                async with runtime.database.session() as session:
                    operation, created = await service.start(
                        session,
                        settings,
                        Actor.cli(),
                        source=source,
                        parameters=parameters,
                        dry_run=dry_run,
                    )
                if not created:
                    say(f"Going on with the unfinished import {operation.id}.")
                    if operation.status == "queued":
                        # A process that died before handing it over: hand it over now (the
                        # engine takes a workflow id once).
                        await enqueue(operation.id, operation.kind, operation.queue)
                if not wait:
                    return {"operation_id": str(operation.id), "status": operation.status}
                return await follow(runtime, operation.id)
            finally:
                if own is not None:
                    await own.shutdown()

    try:
        result = asyncio.run(main())
    except StellwerkError as error:
        fail(error.message, as_json=as_json)
    if result is not None and "operation_id" in result:
        if as_json:
            print_json(result)
        else:
            out.print(f"Import started as operation {result['operation_id']}.")
        return None
    return result


def run_importer(
    source: str,
    parameters: dict[str, Any],
    *,
    data_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    details: bool = False,
    wait: bool = True,
) -> Report | None:
    """Run the import of a frame source as an operation and print its report."""
    from stellwerk.importer.frame import Report

    result = run_operation(
        source, parameters, data_dir=data_dir, dry_run=dry_run, as_json=as_json, wait=wait
    )
    if result is None:
        return None
    report = Report.from_state(result)
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
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Users, API tokens, groups, domains with their settings, and hits from NexRedirect. Works on
    the database directly; needs no running server."""
    run_importer(
        "nexredirect",
        {"sqlite": str(sqlite.resolve()), "owner": owner, "batch": batch},
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
        details=details,
        wait=wait,
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
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """The system API key, client configurations, customers, licenses, devices, open sessions,
    versions, resources and leads from the V2 license server. Works on the database directly;
    needs no running server."""
    from stellwerk.importer.v2 import load_mapping

    load_mapping(mapping)  # a mapping that does not read is refused before anything starts
    run_importer(
        "v2",
        {"database_url": database_url, "mapping": str(mapping.resolve()) if mapping else None},
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
        details=details,
        wait=wait,
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
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Read an export of Stellwerk back: a restore, or the move to another database. Works on the
    database directly; needs no running server."""
    manifest = directory / "manifest.json"
    if passphrase is None and manifest.exists() and b'"secrets": true' in manifest.read_bytes():
        passphrase = typer.prompt("Passphrase of the export", hide_input=True)
    run_importer(
        "stellwerk",
        {"directory": str(directory.resolve()), "passphrase": passphrase},
        data_dir=data_dir,
        dry_run=dry_run,
        as_json=as_json,
        wait=wait,
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
    import asyncio

    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> dict[str, object]:
        async with open_runtime(settings) as runtime:
            return await export(
                runtime.database,
                settings,
                to,
                passphrase=passphrase if include_secrets else None,
            )

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
