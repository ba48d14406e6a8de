"""`stellwerk projects`: create (with a live progress bar), list, show, retry, suspend, resume,
archive, and the life after provisioning (each an operation with a progress bar): redeploy,
restart, stop, start, edit, delete."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api, CliError
from stellwerk.cli.common import JsonOption, check_choice, console, fail, out, print_json
from stellwerk.cli.progress import follow_operation

projects_app = typer.Typer(
    help="Projects: create, list, show, retry, suspend, resume, archive, redeploy, restart, "
    "stop, start, edit, delete.",
    no_args_is_help=True,
)
FollowOption = typer.Option(True, "--follow/--no-follow", help="Wait and show progress.")
RefArgument = typer.Argument(..., metavar="PROJECT", help="Project id or name.")
STATES = ("draft", "provisioning", "active", "error", "suspended", "stopped", "archived")
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
    for project in api.items("/api/projects"):
        if project["name"] == ref:
            return dict(project)
    raise api.failure(f"No project named {ref}", code="not_found")


def _confirm_purchase(api: Api, domain: str, yes: bool) -> None:
    """Before `--register-domain` buys anything: the registrar's price, and the user's yes."""
    try:
        api.call("GET", f"/api/registrar/domains/{domain}")
    except CliError as error:
        if error.extra.get("status") != 404:
            raise api.failure(error.message, code=error.code) from None
    else:
        console.print(f"{domain} is already in the registrar account: nothing to buy.")
        return
    (check,) = api.post("/api/registrar/domains/check", json={"domains": [domain]})["domains"]
    if not check["available"]:
        api.fail(f"{check['domain']} cannot be registered ({check['status'] or 'not available'})")
    price = (
        f"{float(check['price']):.2f} {check['currency']}"
        if check["price"] is not None
        else "an unknown price"
    )
    premium = " (a premium domain)" if check["premium"] else ""
    console.print(f"Registering {check['domain']} costs {price} for the first year{premium}.")
    if yes:
        return
    try:
        confirmed = typer.confirm(f"Buy {check['domain']} for {price}?", default=False)
    except typer.Abort:  # no answer (no terminal): no purchase
        api.fail(f"Not buying {check['domain']} without an answer: confirm with --yes")
    if not confirmed:
        api.fail(f"Not buying {check['domain']}; nothing was created")


@projects_app.command("create")
def projects_create(
    name: str = typer.Argument(
        ..., metavar="NAME", help="Project name (lower-case letters, digits, -)."
    ),
    domain: str = typer.Option(..., "--domain", metavar="DOMAIN", help="The project's domain."),
    plugins: str = typer.Option(
        "",
        "--plugins",
        metavar="PLUGINS",
        help="Comma-separated plugins (STELLWERK_PROJECT_PLUGINS: core,crm,...).",
    ),
    server_uuid: str | None = typer.Option(
        None, "--server-uuid", metavar="SERVER", help="A Coolify server's uuid."
    ),
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
        if register_domain:
            _confirm_purchase(api, domain, yes)
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


# --- the life after provisioning ----------------------------------------------------------------


def _act(
    ref: str,
    action: str,
    as_json: bool,
    follow: bool,
    *,
    method: str = "POST",
    **kwargs: Any,
) -> None:
    """Start `action`'s operation and (`follow`) draw its progress until it ends."""
    with Api(as_json=as_json) as api:
        found = _find(api, ref)
        path = f"/api/projects/{found['id']}"
        started = api.request(method, path if method != "POST" else f"{path}/{action}", **kwargs)
        name, operation_id = started["name"], (started.get("operation") or {}).get("id")
        if not follow or operation_id is None:
            if as_json:
                print_json({"operation_id": operation_id, "status": "started", "project": started})
            else:
                console.print(f"{name}: {action} started, operation {operation_id or '-'}")
            return
        operation = follow_operation(api, operation_id, timeout=FOLLOW_SECONDS, quiet=as_json)
        try:
            project: dict[str, Any] | None = api.call("GET", path)
        except CliError as error:
            if error.extra.get("status") != 404:
                raise api.failure(error.message, code=error.code) from None
            project = None  # deleted
    status, message = operation["status"], operation["message"]
    if as_json:
        print_json({"operation_id": operation_id, "status": status, "project": project})
    if status != "completed":
        api.fail(f"{name}: {action} {status}: {message}")
    if not as_json:
        console.print(f"{name}: {'deleted' if project is None else project['state']}")


@projects_app.command("redeploy")
def projects_redeploy(
    ref: str = RefArgument,
    branch: str | None = typer.Option(
        None, "--branch", metavar="BRANCH", help="Deploy this branch's head."
    ),
    commit: str | None = typer.Option(
        None, "--commit", metavar="COMMIT", help="Deploy this commit."
    ),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """A new deployment of the same commit, or of a branch and/or commit."""
    body = {k: v for k, v in {"branch": branch, "commit": commit}.items() if v is not None}
    _act(ref, "redeploy", as_json, follow, json=body or None)


@projects_app.command("restart")
def projects_restart(
    ref: str = RefArgument, follow: bool = FollowOption, as_json: bool = JsonOption
) -> None:
    """Restart the project's application."""
    _act(ref, "restart", as_json, follow)


@projects_app.command("stop")
def projects_stop(
    ref: str = RefArgument, follow: bool = FollowOption, as_json: bool = JsonOption
) -> None:
    """Stop the project's application (state `stopped`)."""
    _act(ref, "stop", as_json, follow)


@projects_app.command("start")
def projects_start(
    ref: str = RefArgument, follow: bool = FollowOption, as_json: bool = JsonOption
) -> None:
    """Start a stopped or suspended project's application."""
    _act(ref, "start", as_json, follow)


@projects_app.command("edit")
def projects_edit(
    ref: str = RefArgument,
    plugins: str | None = typer.Option(
        None,
        "--plugins",
        metavar="PLUGINS",
        help="The plugins, comma-separated (replaces the list).",
    ),
    env: list[str] = typer.Option(
        [], "--env", metavar="KEY=VALUE", help="A variable to set (repeatable)."
    ),
    unset: list[str] = typer.Option(
        [], "--unset", metavar="KEY", help="A variable to remove (repeatable)."
    ),
    domain: list[str] = typer.Option(
        [],
        "--domain",
        metavar="NAME",
        help="A further name inside the project's domain (repeatable).",
    ),
    no_domains: bool = typer.Option(False, "--no-domains", help="Remove every further name."),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Change plugins, environment variables and further domains; a running project is
    deployed again."""
    variables: dict[str, str | None] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--env takes KEY=VALUE, not {item!r}", as_json=as_json)
        variables[key] = value
    for key in unset:
        variables[key] = None
    if domain and no_domains:
        fail("Give --domain or --no-domains, not both", as_json=as_json)
    body: dict[str, Any] = {}
    if plugins is not None:
        body["plugins"] = [p for p in plugins.split(",") if p.strip()]
    if variables:
        body["env"] = variables
    if no_domains or domain:
        body["domains"] = [] if no_domains else domain
    _act(ref, "edit", as_json, follow, method="PATCH", json=body)


@projects_app.command("delete")
def projects_delete(
    ref: str = RefArgument,
    delete_zone: bool = typer.Option(
        False, "--delete-zone", help="Delete the domain's DNS zone too (every record in it)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove the application, the Coolify project and the DNS records the project created
    (and with --delete-zone its zone); the domain registration is kept."""
    if not yes and not typer.confirm(f"Delete project {ref} and its Coolify application?"):
        fail("Not deleted", as_json=as_json)
    params = {"delete_zone": "true"} if delete_zone else None
    _act(ref, "delete", as_json, follow, method="DELETE", params=params)
