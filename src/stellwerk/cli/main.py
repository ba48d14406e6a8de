"""`stellwerk`: serve and migrate on the database; everything else through the running server's
API (`stellwerk login`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.panel import Panel

import stellwerk
from stellwerk.cli.common import (
    DataDirOption,
    console,
    data_dir_override,
    fail,
    help_in_words,
    load_settings,
    load_startable_settings,
)
from stellwerk.cli.identity import admin_app, apikey_app, token_app
from stellwerk.cli.importer import export_command, import_app
from stellwerk.cli.importer_more import register_adoption, register_imports
from stellwerk.cli.license import license_app
from stellwerk.cli.login import login_command, logout_command
from stellwerk.cli.module import modules_app
from stellwerk.cli.operation import ops_app
from stellwerk.cli.project import projects_app
from stellwerk.cli.provider import providers_app
from stellwerk.cli.reconcile import reconcile_command
from stellwerk.cli.redirect import redirect_app
from stellwerk.cli.registrar import domains_app
from stellwerk.cli.sandbox import sandbox_command
from stellwerk.cli.server import secrets_app, servers_app

if TYPE_CHECKING:
    from stellwerk.bootstrap import FirstStart
    from stellwerk.kit.ports import PortInUse

help_in_words()
app = typer.Typer(
    name="stellwerk",
    help=(
        "Stellwerk: the control plane for servers, domains, deployments, redirects, "
        "licenses and modules. Most commands talk to the running server (`stellwerk serve`): "
        "log in once with `stellwerk login`, or set STELLWERK_URL and STELLWERK_TOKEN."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(admin_app, name="admin")
app.add_typer(token_app, name="token")
app.add_typer(apikey_app, name="apikey")
app.add_typer(license_app, name="license")
app.add_typer(ops_app, name="ops")
app.add_typer(modules_app, name="modules")
app.add_typer(redirect_app, name="redirect")
app.add_typer(domains_app, name="domains")
app.add_typer(servers_app, name="servers")
app.add_typer(secrets_app, name="secrets")
app.add_typer(projects_app, name="projects")
app.add_typer(providers_app, name="providers")
app.command("login")(login_command)
app.command("logout")(logout_command)
app.add_typer(import_app, name="import")
app.command("sandbox")(sandbox_command)
app.command("export")(export_command)
app.command("reconcile")(reconcile_command)
register_adoption(domains_app, projects_app)
register_imports(import_app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stellwerk {stellwerk.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Stellwerk's command line."""


def _show_first_start(report: FirstStart) -> None:
    lines = []
    if report.admin_username:
        lines.append(f"Admin user: [bold]{report.admin_username}[/bold]")
        if report.admin_password:
            lines.append(f"Password:   [bold]{report.admin_password}[/bold]")
    if report.api_key:
        lines.append(f"License API key (X-API-Key): [bold]{report.api_key}[/bold]")
    lines.append("These are shown once and stored only as hashes. Keep them now.")
    console.print(Panel("\n".join(lines), title="First start", border_style="yellow"))


def _show_ready(urls: dict[str, Any]) -> None:
    lines = []
    if "api" in urls:
        lines += [f"API and web UI   {urls['api']}", f"API docs         {urls['api']}/api/docs"]
    if "executor_id" in urls:
        listens = f"metrics on {urls['metrics']}" if "metrics" in urls else "no HTTP listener"
        lines.append(f"Worker           executor id {urls['executor_id']} ({listens})")
    if "redirect" in urls:
        lines.append(f"Redirects        {urls['redirect']}")
    sandboxes = urls.get("sandboxes") or {}
    if sandboxes:
        lines.append("Provider sandboxes (no real provider is called):")
        lines.extend(f"  {name:<13}{url}" for name, url in sandboxes.items())
    console.print(
        Panel(
            "\n".join(lines),
            title=f"Stellwerk {stellwerk.__version__} is running",
            border_style="green",
        )
    )


def _port_in_use(error: PortInUse) -> NoReturn:
    typer.echo(f"error: {error.message}", err=True)  # one line, whatever the terminal's width
    raise typer.Exit(2) from None


@app.command()
def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on.", envvar="STELLWERK_HOST"
    ),
    port: int | None = typer.Option(None, "--port", help="API port.", envvar="STELLWERK_PORT"),
    role: str | None = typer.Option(
        None,
        "--role",
        help="all (default): everything, started and supervised by this one command; api: HTTP "
        "only, operations run on workers; worker: workflows and periodic jobs only (no HTTP).",
        envvar="STELLWERK_ROLE",
    ),
    executor_id: str | None = typer.Option(
        None,
        "--executor-id",
        help="Stable id of this worker, unique per process; a restart with the same id resumes "
        "its unfinished operations.",
        envvar="STELLWERK_EXECUTOR_ID",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        help="Port where a worker (--role worker) serves /metrics (0: any free port).",
        envvar="STELLWERK_METRICS_PORT",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Run Stellwerk: API, web UI, workers and every listener, in one process (or one role).
    Works on the database directly."""
    from stellwerk.kit.logs import configure_logging
    from stellwerk.kit.ports import PortInUse
    from stellwerk.serve import ensure_ports_free, run

    if role is not None and role not in ("all", "api", "worker"):
        fail("--role is one of all, api, worker")
    settings = load_startable_settings(
        host=host,
        port=port,
        role=role,
        executor_id=executor_id,
        metrics_port=metrics_port,
        **data_dir_override(data_dir),
    )
    if settings.role != "all" and settings.is_sqlite:
        fail("--role api|worker needs PostgreSQL (STELLWERK_DATABASE_URL)")
    if settings.disabled_job_list:
        from stellwerk.config import UnsafeConfiguration
        from stellwerk.jobs import enabled_jobs

        try:
            enabled_jobs(settings)
        except UnsafeConfiguration as error:
            fail(error.message)
    if settings.role != "all" and settings.sandbox_enabled and not settings.sandbox_port:
        fail(
            "--role api|worker in sandbox mode needs STELLWERK_SANDBOX_PORT: the port of "
            "`stellwerk sandbox`, which every process shares"
        )
    try:
        ensure_ports_free(settings)  # before anything is printed or started
    except PortInUse as error:
        _port_in_use(error)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    database = "SQLite" if settings.is_sqlite else "PostgreSQL"
    console.print(
        f"Starting Stellwerk ({settings.role}) on {database} "
        f"(data in {settings.data_dir.resolve()})"
    )
    code = 0
    try:
        with contextlib.suppress(KeyboardInterrupt):
            code = run(settings, on_first_start=_show_first_start, on_ready=_show_ready)
    except PortInUse as error:  # taken between the check and the listener's start
        _port_in_use(error)
    if code:
        raise typer.Exit(code)


@app.command("migrate")
def migrate_command(data_dir: Path | None = DataDirOption) -> None:
    """Apply the database migrations (also done on every start). Works on the database
    directly; needs no running server."""
    from stellwerk import migrate

    settings = load_settings(**data_dir_override(data_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    console.print("The database schema is up to date.")
