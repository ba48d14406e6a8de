"""`stellwerk domains import`, `stellwerk projects import` (adopt what runs at the providers)
and `stellwerk import skypanel|vyra`. Each is a dry run unless `--apply`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    console,
    out,
    print_json,
)
from stellwerk.cli.importer import WaitOption

if TYPE_CHECKING:
    from stellwerk.importer.plan import ImportPlan

ApplyOption = typer.Option(
    False,
    "--apply/--dry-run",
    help="--dry-run (the default) reports the plan and changes nothing; --apply carries it out.",
)
VERBS = {"create": "create", "update": "update", "skip": "skip", "refuse": "refuse"}


def show_plan(plan: ImportPlan, as_json: bool) -> None:
    """The plan entity by entity, then one line of counts (or all of it as JSON)."""
    if as_json:
        print_json(plan.as_json())
        return
    table = Table("entity", "key", "action", "why")
    for entry in plan.entries:
        table.add_row(entry.entity, entry.key, entry.verdict, entry.reason)
    out.print(table)
    counts = plan.counts()
    verb = "Created" if plan.applied else "Would create"
    console.print(
        f"{verb} {counts['create']}, update {counts['update']}, skip {counts['skip']},"
        f" refuse {counts['refuse']}."
        + ("" if plan.applied or not plan.changes else " Run again with --apply to apply.")
    )


def domains_import(
    apply: bool = ApplyOption,
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Adopt every domain and DNS zone of the INWX account (records stay at INWX, unchanged).
    Works on the database directly; needs no running server."""
    run_plan_import("domains", {}, apply=apply, wait=wait, data_dir=data_dir, as_json=as_json)


def projects_import(
    apply: bool = ApplyOption,
    user: str | None = typer.Option(
        None, "--user", help="The customer the adopted projects belong to (default: the company)."
    ),
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Adopt Coolify's applications as projects, matched with the projects here by domain. Works
    on the database directly; needs no running server."""
    run_plan_import(
        "projects", {"user": user}, apply=apply, wait=wait, data_dir=data_dir, as_json=as_json
    )


def skypanel_import(
    database_url: str = typer.Option(
        ..., "--database-url", help="The panel's PostgreSQL (opened read-only)."
    ),
    secret: str | None = typer.Option(
        None,
        "--secret",
        envvar="SSH_CRED_SECRET",
        help="The panel's SSH_CRED_SECRET, which its provider API keys are encrypted with.",
    ),
    jwt_secret: str | None = typer.Option(
        None,
        "--jwt-secret",
        envvar="JWT_SECRET",
        help="Only for a panel that ran without an SSH_CRED_SECRET: its JWT_SECRET.",
    ),
    apply: bool = ApplyOption,
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Providers (keys encrypted again under Stellwerk's key), plans, and servers with their
    owners from a SkyPanel database, matched against the servers live at each provider. Works on
    the database directly; needs no running server."""
    run_plan_import(
        "skypanel",
        {"database_url": database_url, "secret": secret, "jwt_secret": jwt_secret},
        apply=apply,
        wait=wait,
        data_dir=data_dir,
        as_json=as_json,
    )


def vyra_import(
    workspace: Path = typer.Option(
        ..., "--workspace", exists=True, file_okay=False, help="The module manager's workspace."
    ),
    instances: Path | None = typer.Option(
        None,
        "--instances",
        exists=True,
        dir_okay=False,
        help="The module manager's answer to GET /modules/instances, saved to a file: which "
        "instance of each module is primary (default: the oldest one).",
    ),
    apply: bool = ApplyOption,
    wait: bool = WaitOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Installed modules and their instances (ids kept), the primary instance of each module and
    the repository configuration from a VYRA module manager's workspace. Works on the database
    directly; needs no running server."""
    run_plan_import(
        "vyra",
        {
            "workspace": str(workspace.resolve()),
            "instances": str(instances.resolve()) if instances else None,
        },
        apply=apply,
        wait=wait,
        data_dir=data_dir,
        as_json=as_json,
    )


def run_plan_import(
    source: str,
    parameters: dict[str, Any],
    *,
    apply: bool,
    wait: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the import of a plan source as an operation and show its plan."""
    from stellwerk.cli.importer import run_operation
    from stellwerk.importer.plan import ImportPlan

    result = run_operation(
        source, parameters, data_dir=data_dir, dry_run=not apply, as_json=as_json, wait=wait
    )
    if result is not None:
        show_plan(ImportPlan.from_json(result), as_json)


def register_imports(import_app: typer.Typer) -> None:
    """The importers of this module as commands of `stellwerk import`."""
    import_app.command("skypanel")(skypanel_import)
    import_app.command("vyra")(vyra_import)


def register_adoption(domains_app: typer.Typer, projects_app: typer.Typer) -> None:
    domains_app.command("import")(domains_import)
    projects_app.command("import")(projects_import)
