"""`stellwerk domains import`, `stellwerk projects import` (adopt what runs at the providers)
and `stellwerk import skypanel|vyra`. Each is a dry run unless `--apply`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    console,
    data_dir_override,
    load_settings,
    out,
    print_json,
    run_in_session,
)
from stellwerk.importer import adopt, skypanel, vyra
from stellwerk.importer.plan import ImportPlan, apply_plan
from stellwerk.runtime import Runtime
from stellwerk.server.service import instance_service

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
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Adopt every domain and DNS zone of the INWX account (records stay at INWX, unchanged)."""

    async def work(runtime: Runtime, session: AsyncSession) -> ImportPlan:
        plan = await adopt.plan_domains(session, runtime.settings)
        if apply:
            await apply_plan(session, Actor.cli(), plan)
        return plan

    show_plan(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


def projects_import(
    apply: bool = ApplyOption,
    user: str | None = typer.Option(
        None, "--user", help="The customer the adopted projects belong to (default: the company)."
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Adopt Coolify's applications as projects, matched with the projects here by domain."""

    async def work(runtime: Runtime, session: AsyncSession) -> ImportPlan:
        owner_id = (await instance_service.owner(session, user)).id if user else None
        plan = await adopt.plan_projects(session, runtime.settings, owner_user_id=owner_id)
        if apply:
            await apply_plan(session, Actor.cli(), plan)
        return plan

    show_plan(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


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
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Providers (keys encrypted again under Stellwerk's key), plans, and servers with their
    owners from a SkyPanel database, matched against the servers live at each provider."""

    async def work(runtime: Runtime, session: AsyncSession) -> ImportPlan:
        plan = await skypanel.plan_skypanel(
            session,
            runtime.settings,
            database_url=database_url,
            secret=secret,
            jwt_secret=jwt_secret,
            sandboxes=runtime.sandboxes,
        )
        if apply:
            await apply_plan(session, Actor.cli(), plan)
        return plan

    show_plan(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


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
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Installed modules and their instances (ids kept), the primary instance of each module and
    the repository configuration from a VYRA module manager's workspace."""

    async def work(runtime: Runtime, session: AsyncSession) -> ImportPlan:
        actor = Actor.cli()
        plan = await vyra.plan_vyra(
            session, runtime.settings, actor, workspace=workspace, instances_file=instances
        )
        if apply:
            await apply_plan(session, actor, plan)
        return plan

    show_plan(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


def register_imports(import_app: typer.Typer) -> None:
    """The importers of this module as commands of `stellwerk import`."""
    import_app.command("skypanel")(skypanel_import)
    import_app.command("vyra")(vyra_import)


def register_adoption(domains_app: typer.Typer, projects_app: typer.Typer) -> None:
    domains_app.command("import")(domains_import)
    projects_app.command("import")(projects_import)
