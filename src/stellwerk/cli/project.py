"""`stellwerk projects`: create (with a live progress bar), list, show, retry, suspend, resume,
archive, and the life after provisioning (each an operation with a progress bar): redeploy,
restart, stop, start, edit, delete."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
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
    run_in_session,
)
from stellwerk.cli.progress import follow_operation
from stellwerk.config import Settings
from stellwerk.exceptions import NotFound
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.project.router import project_read
from stellwerk.project.schemas import ProjectRead
from stellwerk.project.service import project_service
from stellwerk.provider.registrar.base import DomainCheck
from stellwerk.registrar.repository import RegistrarRepository
from stellwerk.registrar.service import normalize_domain
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime

projects_app = typer.Typer(
    help="Projects: create, list, show, retry, suspend, resume, archive, redeploy, restart, "
    "stop, start, edit, delete.",
    no_args_is_help=True,
)
FollowOption = typer.Option(True, "--follow/--no-follow", help="Wait and show progress.")


async def _read(runtime: Runtime, project_id: int) -> ProjectRead:
    async with runtime.database.session() as session:
        project = await project_service.get(session, Principal.system(), project_id)
        operations = await project_service.operations(session, [project])
        return project_read(project, operations.get(project.operation_id))


def _finish(project: ProjectRead, as_json: bool) -> None:
    if as_json:
        print_json(project.model_dump(mode="json"))
    if project.state == "active":
        if not as_json:
            console.print(f"[green]{project.name} is live:[/green] {project.live_url}")
        return
    if project.state == "error" and project.error is not None:
        fail(f"{project.name} failed at step {project.error.step}: {project.error.message}")
    if project.state in ("draft", "provisioning"):
        fail(
            f"{project.name} is still {project.state}: is `stellwerk serve` running on this "
            "data directory?"
        )
    if not as_json:
        console.print(f"{project.name}: {project.state}")


def _follow(settings: Settings, project_id: int, operation_id: uuid.UUID, as_json: bool) -> None:
    async def main() -> ProjectRead:
        async with open_runtime(settings) as runtime:
            await follow_operation(
                runtime,
                operation_id,
                timeout=settings.project_deploy_timeout_seconds + 600,
                quiet=as_json,
            )
            return await _read(runtime, project_id)

    _finish(asyncio.run(main()), as_json)


def _confirm_purchase(settings: Settings, domain: str, yes: bool) -> None:
    """Before `--register-domain` buys anything: the registrar's price, and the user's yes."""

    async def work(runtime: Runtime, session: AsyncSession) -> DomainCheck | None:
        if await RegistrarRepository(session).domain(normalize_domain(domain)) is not None:
            return None
        (check,) = await registrar_service.check(runtime.settings, domains=[domain])
        return check

    check = run_in_session(settings, work)
    if check is None:
        console.print(f"{domain} is already in the registrar account: nothing to buy.")
        return
    if not check.available:
        fail(f"{check.domain} cannot be registered ({check.status or 'not available'})")
    price = f"{check.price:.2f} {check.currency}" if check.price is not None else "an unknown price"
    premium = " (a premium domain)" if check.premium else ""
    console.print(f"Registering {check.domain} costs {price} for the first year{premium}.")
    if yes:
        return
    try:
        confirmed = typer.confirm(f"Buy {check.domain} for {price}?", default=False)
    except typer.Abort:  # no answer (no terminal): no purchase
        fail(f"Not buying {check.domain} without an answer: confirm with --yes")
    if not confirmed:
        fail(f"Not buying {check.domain}; nothing was created")


@projects_app.command("create")
def projects_create(
    name: str = typer.Argument(..., help="Project name (lower-case letters, digits, -)."),
    domain: str = typer.Option(..., "--domain", help="The project's domain."),
    plugins: str = typer.Option(
        "", "--plugins", help="Comma-separated plugins (STELLWERK_PROJECT_PLUGINS: core,crm,...)."
    ),
    server_uuid: str | None = typer.Option(None, "--server-uuid", help="A Coolify server."),
    register_domain: bool = typer.Option(
        False,
        "--register-domain/--no-register-domain",
        help="Buy the domain at the registrar unless it is already in the registrar account "
        "(asks first and shows the price). Off: the domain must be yours already.",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --register-domain: buy without asking."
    ),
    create_server: bool = typer.Option(
        False, "--create-server", help="Create a Hetzner server through Coolify first."
    ),
    dns_provider: str | None = typer.Option(
        None, "--dns-provider", help="inwx, powerdns or hetzner (default: the zone's)."
    ),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a project and provision it; ends with the live URL or the failing step."""
    settings = load_settings(**data_dir_override(data_dir))
    if register_domain:
        _confirm_purchase(settings, domain, yes)

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[int, uuid.UUID]:
        project, operation = await project_service.create(
            session,
            Actor.cli(),
            Principal.system(),
            name=name,
            domain=domain,
            plugins=plugins.split(","),
            known_plugins=runtime.settings.project_plugin_list,
            server_uuid=server_uuid,
            register_domain=register_domain,
            create_server=create_server,
            dns_provider=dns_provider,
        )
        return project.id, operation.id

    project_id, operation_id = run_in_session(settings, work)
    if not as_json:
        console.print(f"Project {name} (id {project_id}): provisioning, operation {operation_id}")
    if follow:
        _follow(settings, project_id, operation_id, as_json)
    elif as_json:
        print_json({"id": project_id, "operation_id": str(operation_id)})


@projects_app.command("list")
def projects_list(
    state: str | None = typer.Option(None, "--state", help="Only projects in this state."),
    limit: int = typer.Option(100, "--limit", min=1, max=200),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List projects, newest first."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[ProjectRead]:
        rows, _ = await project_service.list(
            session, Principal.system(), params=PageParams(page=1, per_page=limit), state=state
        )
        operations = await project_service.operations(session, rows)
        return [project_read(p, operations.get(p.operation_id)) for p in rows]

    projects = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json([p.model_dump(mode="json") for p in projects])
        return
    table = Table("id", "name", "domain", "state", "live url / error")
    for p in projects:
        detail = p.live_url or (f"{p.error.step}: {p.error.message}" if p.error else "")
        table.add_row(str(p.id), p.name, p.domain, p.state, detail or "")
    out.print(table)


def _one(ref: str, data_dir: Path | None) -> tuple[Settings, ProjectRead]:
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: AsyncSession) -> ProjectRead:
        project = await project_service.find(session, Principal.system(), ref)
        operations = await project_service.operations(session, [project])
        return project_read(project, operations.get(project.operation_id))

    return settings, run_in_session(settings, work)


@projects_app.command("show")
def projects_show(
    ref: str = typer.Argument(..., help="Project id or name."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """State, DNS records, Coolify uuids, live URL and the operation's progress."""
    _, project = _one(ref, data_dir)
    if as_json:
        print_json(project.model_dump(mode="json"))
        return
    out.print(f"[bold]{project.name}[/bold] ({project.domain}): {project.state}")
    if project.live_url:
        out.print(f"  live url       {project.live_url}")
    if project.error:
        out.print(f"  [red]failed at[/red]      {project.error.step}: {project.error.message}")
    out.print(f"  plugins        {','.join(project.plugins) or '-'}")
    out.print(f"  server         {project.server_uuid or '-'} ({project.server_ip or '-'})")
    out.print(f"  coolify        project {project.coolify_project_uuid or '-'}")
    out.print(f"                 app {project.coolify_app_uuid or '-'}")
    for record in project.dns_records:
        out.print(f"  dns            {record['name']} {record['type']} {record['content']}")
    if project.operation:
        op = project.operation
        out.print(f"  operation      {op.id} {op.status} {op.progress}% - {op.message}")


def _change(ref: str, data_dir: Path | None, action: str, as_json: bool) -> None:
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[ProjectRead, uuid.UUID | None]:
        project = await project_service.find(session, Principal.system(), ref)
        operation_id = None
        if action == "retry":
            operation_id = (await project_service.retry(session, Actor.cli(), project)).id
        elif action == "suspend":
            await project_service.suspend(session, runtime.settings, Actor.cli(), project)
        elif action == "resume":
            await project_service.resume(session, runtime.settings, Actor.cli(), project)
        else:
            await project_service.archive(session, runtime.settings, Actor.cli(), project)
        operations = await project_service.operations(session, [project])
        return project_read(project, operations.get(project.operation_id)), operation_id

    project, operation_id = run_in_session(settings, work)
    if operation_id is not None:
        if not as_json:
            console.print(
                f"Retrying {project.name} from step {project.error.step if project.error else '-'}"
            )
        _follow(settings, project.id, operation_id, as_json)
        return
    if as_json:
        print_json(project.model_dump(mode="json"))
    else:
        console.print(f"{project.name}: {project.state}")


@projects_app.command("retry")
def projects_retry(
    ref: str = typer.Argument(..., help="Project id or name."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Provision a failed project again from the failed step."""
    _change(ref, data_dir, "retry", as_json)


@projects_app.command("suspend")
def projects_suspend(
    ref: str = typer.Argument(..., help="Project id or name."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop the project's application."""
    _change(ref, data_dir, "suspend", as_json)


@projects_app.command("resume")
def projects_resume(
    ref: str = typer.Argument(..., help="Project id or name."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a suspended project's application again."""
    _change(ref, data_dir, "resume", as_json)


@projects_app.command("archive")
def projects_archive(
    ref: str = typer.Argument(..., help="Project id or name."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove the application, Coolify project and DNS records; keep the domain."""
    _change(ref, data_dir, "archive", as_json)


# --- the life after provisioning ----------------------------------------------------------------


def _act(
    ref: str,
    data_dir: Path | None,
    action: str,
    as_json: bool,
    follow: bool,
    **options: Any,
) -> None:
    """Start `action`'s operation and (`follow`) draw its progress until it ends."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[int, str, uuid.UUID]:
        project = await project_service.find(session, Principal.system(), ref)
        actor = Actor.cli()
        if action == "redeploy":
            operation = await project_service.redeploy(session, actor, project, **options)
        elif action == "restart":
            operation = await project_service.restart(session, actor, project)
        elif action == "stop":
            operation = await project_service.stop(session, actor, project)
        elif action == "start":
            operation = await project_service.start_app(session, actor, project)
        elif action == "edit":
            operation = await project_service.edit(
                session, runtime.settings, actor, project, **options
            )
        else:
            operation = await project_service.delete(session, actor, project, **options)
        return project.id, project.name, operation.id

    project_id, name, operation_id = run_in_session(settings, work)
    if not follow:
        if as_json:
            print_json({"id": project_id, "operation_id": str(operation_id)})
        else:
            console.print(f"{name}: {action} started, operation {operation_id}")
        return

    async def main() -> tuple[str, str, ProjectRead | None]:
        async with open_runtime(settings) as runtime:
            operation = await follow_operation(
                runtime,
                operation_id,
                timeout=settings.project_deploy_timeout_seconds + 600,
                quiet=as_json,
            )
            try:
                project = await _read(runtime, project_id)
            except NotFound:
                project = None  # deleted
            return operation.status, operation.message, project

    status, message, project = asyncio.run(main())
    if as_json:
        print_json(
            {
                "operation_id": str(operation_id),
                "status": status,
                "project": None if project is None else project.model_dump(mode="json"),
            }
        )
    if status != "completed":
        fail(f"{name}: {action} {status}: {message}")
    if not as_json:
        console.print(f"{name}: {'deleted' if project is None else project.state}")


@projects_app.command("redeploy")
def projects_redeploy(
    ref: str = typer.Argument(..., help="Project id or name."),
    branch: str | None = typer.Option(None, "--branch", help="Deploy this branch's head."),
    commit: str | None = typer.Option(None, "--commit", help="Deploy this commit."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """A new deployment of the same commit, or of a branch and/or commit."""
    _act(ref, data_dir, "redeploy", as_json, follow, branch=branch, commit=commit)


@projects_app.command("restart")
def projects_restart(
    ref: str = typer.Argument(..., help="Project id or name."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Restart the project's application."""
    _act(ref, data_dir, "restart", as_json, follow)


@projects_app.command("stop")
def projects_stop(
    ref: str = typer.Argument(..., help="Project id or name."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop the project's application (state `stopped`)."""
    _act(ref, data_dir, "stop", as_json, follow)


@projects_app.command("start")
def projects_start(
    ref: str = typer.Argument(..., help="Project id or name."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a stopped or suspended project's application."""
    _act(ref, data_dir, "start", as_json, follow)


@projects_app.command("edit")
def projects_edit(
    ref: str = typer.Argument(..., help="Project id or name."),
    plugins: str | None = typer.Option(
        None, "--plugins", help="The plugins, comma-separated (replaces the list)."
    ),
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE to set (repeatable)."),
    unset: list[str] = typer.Option([], "--unset", help="KEY to remove (repeatable)."),
    domain: list[str] = typer.Option(
        [], "--domain", help="A further name inside the project's domain (repeatable)."
    ),
    no_domains: bool = typer.Option(False, "--no-domains", help="Remove every further name."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Change plugins, environment variables and further domains; a running project is
    deployed again."""
    variables: dict[str, str | None] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--env takes KEY=VALUE, not {item!r}")
        variables[key] = value
    for key in unset:
        variables[key] = None
    if domain and no_domains:
        fail("Give --domain or --no-domains, not both")
    _act(
        ref,
        data_dir,
        "edit",
        as_json,
        follow,
        plugins=None if plugins is None else plugins.split(","),
        env=variables or None,
        domains=[] if no_domains else (domain or None),
    )


@projects_app.command("delete")
def projects_delete(
    ref: str = typer.Argument(..., help="Project id or name."),
    delete_zone: bool = typer.Option(
        False, "--delete-zone", help="Delete the domain's DNS zone too (every record in it)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove the application, the Coolify project and the DNS records the project created
    (and with --delete-zone its zone); the domain registration is kept."""
    if not yes and not typer.confirm(f"Delete project {ref} and its Coolify application?"):
        fail("Not deleted")
    _act(ref, data_dir, "delete", as_json, follow, delete_zone=delete_zone)
