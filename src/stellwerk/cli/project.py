"""`stellwerk projects`: create (with a live progress bar), list, show, retry, suspend, resume,
archive."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, check_choice, console, out, print_json
from stellwerk.cli.progress import follow_operation

projects_app = typer.Typer(
    help="Projects: create, list, show, retry, suspend, resume, archive.", no_args_is_help=True
)
FollowOption = typer.Option(True, "--follow/--no-follow", help="Wait and show progress.")
RefArgument = typer.Argument(..., metavar="PROJECT", help="Project id or name.")
STATES = ("draft", "provisioning", "active", "error", "suspended", "archived")
DNS_PROVIDERS = ("inwx", "powerdns", "hetzner")
FOLLOW_SECONDS = 3600.0


def _finish(api: Api, project: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(project)
    name, state, error = project["name"], project["state"], project.get("error")
    if state == "active":
        if not as_json:
            console.print(f"[green]{name} is live:[/green] {project['live_url']}")
        return
    if state == "error" and error is not None:
        api.fail(f"{name} failed at step {error['step']}: {error['message']}")
    if state in ("draft", "provisioning"):
        api.fail(f"{name} is still {state}: are the server's workers running?")
    if not as_json:
        console.print(f"{name}: {state}")


def _follow(api: Api, project: dict[str, Any], as_json: bool) -> None:
    operation = project.get("operation")
    if operation is not None:
        follow_operation(api, operation["id"], timeout=FOLLOW_SECONDS, quiet=as_json)
    _finish(api, api.get(f"/api/projects/{project['id']}"), as_json)


def _find(api: Api, ref: str) -> dict[str, Any]:
    """A project by id, or by name among the ones the caller sees."""
    if ref.isdigit():
        found: dict[str, Any] = api.get(f"/api/projects/{ref}")
        return found
    page = 1
    while page <= 100:
        listed = api.get("/api/projects", params={"page": page, "per_page": 100})
        for project in listed["items"]:
            if project["name"] == ref:
                return dict(project)
        if page >= listed["pages"]:
            break
        page += 1
    raise api.failure(f"No project named {ref}", code="not_found")


@projects_app.command("create")
def projects_create(
    name: str = typer.Argument(
        ..., metavar="NAME", help="Project name (lower-case letters, digits, -)."
    ),
    domain: str = typer.Option(..., "--domain", metavar="DOMAIN", help="The project's domain."),
    plugins: str = typer.Option(
        "", "--plugins", metavar="PLUGINS", help="Comma-separated plugins (core,crm)."
    ),
    server_uuid: str | None = typer.Option(
        None, "--server-uuid", metavar="SERVER", help="A Coolify server's uuid."
    ),
    register_domain: bool = typer.Option(
        True,
        "--register-domain/--no-register-domain",
        help="Buy the domain unless it is already in the registrar account.",
    ),
    create_server: bool = typer.Option(
        False, "--create-server", help="Create a Hetzner server through Coolify first."
    ),
    dns_provider: str | None = typer.Option(
        None,
        "--dns-provider",
        metavar="PROVIDER",
        help="inwx, powerdns or hetzner (default: the zone's).",
    ),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a project and provision it; ends with the live URL or the failing step."""
    if dns_provider is not None:
        check_choice("--dns-provider", dns_provider, DNS_PROVIDERS, as_json=as_json)
    body = {
        "name": name,
        "domain": domain,
        "plugins": [p for p in plugins.split(",") if p.strip()],
        "server_uuid": server_uuid,
        "register_domain": register_domain,
        "create_server": create_server,
        "dns_provider": dns_provider,
    }
    with Api(as_json=as_json) as api:
        project = api.post("/api/projects", json=body)
        operation = project.get("operation") or {}
        if not as_json:
            console.print(
                f"Project {name} (id {project['id']}): provisioning, "
                f"operation {operation.get('id', '-')}"
            )
        if follow:
            _follow(api, project, as_json)
        elif as_json:
            print_json(project)


@projects_app.command("list")
def projects_list(
    state: str | None = typer.Option(
        None, "--state", metavar="STATE", help=f"Only projects in this state: {', '.join(STATES)}."
    ),
    limit: int = typer.Option(100, "--limit", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """List projects, newest first."""
    if state is not None:
        check_choice("--state", state, STATES, as_json=as_json)
    with Api(as_json=as_json) as api:
        projects = api.get("/api/projects", params={"state": state, "per_page": limit})["items"]
    if as_json:
        print_json(projects)
        return
    table = Table("id", "name", "domain", "state", "live url / error")
    for p in projects:
        error = p.get("error")
        detail = p.get("live_url") or (f"{error['step']}: {error['message']}" if error else "")
        table.add_row(str(p["id"]), p["name"], p["domain"], p["state"], detail or "")
    out.print(table)


@projects_app.command("show")
def projects_show(ref: str = RefArgument, as_json: bool = JsonOption) -> None:
    """State, DNS records, Coolify uuids, live URL and the operation's progress."""
    with Api(as_json=as_json) as api:
        project = _find(api, ref)
    if as_json:
        print_json(project)
        return
    out.print(f"[bold]{project['name']}[/bold] ({project['domain']}): {project['state']}")
    if project.get("live_url"):
        out.print(f"  live url       {project['live_url']}")
    if project.get("error"):
        error = project["error"]
        out.print(f"  [red]failed at[/red]      {error['step']}: {error['message']}")
    out.print(f"  plugins        {','.join(project['plugins']) or '-'}")
    out.print(f"  server         {project['server_uuid'] or '-'} ({project['server_ip'] or '-'})")
    out.print(f"  coolify        project {project['coolify_project_uuid'] or '-'}")
    out.print(f"                 app {project['coolify_app_uuid'] or '-'}")
    for record in project["dns_records"]:
        out.print(f"  dns            {record['name']} {record['type']} {record['content']}")
    if project.get("operation"):
        op = project["operation"]
        out.print(f"  operation      {op['id']} {op['status']} {op['progress']}% - {op['message']}")


def _change(ref: str, action: str, as_json: bool) -> None:
    with Api(as_json=as_json) as api:
        project = api.post(f"/api/projects/{_find(api, ref)['id']}/{action}")
        if action == "retry":
            if not as_json:
                error = project.get("error")
                console.print(
                    f"Retrying {project['name']} from step {error['step'] if error else '-'}"
                )
            _follow(api, project, as_json)
            return
    if as_json:
        print_json(project)
    else:
        console.print(f"{project['name']}: {project['state']}")


@projects_app.command("retry")
def projects_retry(ref: str = RefArgument, as_json: bool = JsonOption) -> None:
    """Provision a failed project again from the failed step."""
    _change(ref, "retry", as_json)


@projects_app.command("suspend")
def projects_suspend(ref: str = RefArgument, as_json: bool = JsonOption) -> None:
    """Stop the project's application."""
    _change(ref, "suspend", as_json)


@projects_app.command("resume")
def projects_resume(ref: str = RefArgument, as_json: bool = JsonOption) -> None:
    """Start a suspended project's application again."""
    _change(ref, "resume", as_json)


@projects_app.command("archive")
def projects_archive(ref: str = RefArgument, as_json: bool = JsonOption) -> None:
    """Remove the application, Coolify project and DNS records; keep the domain."""
    _change(ref, "archive", as_json)
