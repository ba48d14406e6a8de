"""`stellwerk modules`: the catalog, installing, updating, listing, stopping, starting and
removing module instances.

These start the same durable operations as the API; the workers of the running `stellwerk serve`
on this data directory carry them out while the command draws the progress. An operation that
stops with a question asks it at the terminal (or says how to answer it with `stellwerk ops
answer`).
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, console, out, print_json
from stellwerk.cli.progress import describe_prompts, follow_operation

modules_app = typer.Typer(
    help="Modules: the repositories' catalog and installed instances.", no_args_is_help=True
)

FollowOption = typer.Option(True, "--follow/--no-follow", help="Wait and show progress.")
TIMEOUT_SECONDS = 600.0
MAJOR_UPDATE = "major_update"  # the question an update across a major version asks


def _start_and_follow(
    api: Api, method: str, path: str, *, follow: bool, **kwargs: Any
) -> dict[str, Any]:
    """Start an operation, then (optionally) follow it to its end."""
    started: dict[str, Any] = api.request(method, path, **kwargs)
    operation_id = started["operation_id"]
    if follow:
        follow_operation(api, operation_id, timeout=TIMEOUT_SECONDS, quiet=api.as_json)
    result: dict[str, Any] = api.get(f"/modules/status/{operation_id}")
    if result["prompts"] and not api.as_json:
        describe_prompts(operation_id, result["prompts"])
    return result


def _report(api: Api, result: dict[str, Any], *, follow: bool) -> None:
    status, operation_id = result["status"], result["operation_id"]
    if api.as_json:
        print_json(result)
    elif follow and status == "queued":
        api.fail("The operation is still queued: are the server's workers running?")
    elif status == "waiting":
        console.print(f"Operation {operation_id} waits for an answer (see above).")
    else:
        console.print(f"Operation {operation_id}: {status} - {result['message']}")
    if status in ("failed", "cancelled"):
        raise typer.Exit(1)


@modules_app.command("list")
def modules_list(
    repository: str | None = typer.Option(
        None, "--repository", metavar="REPOSITORY", help="Only this repository."
    ),
    search: str | None = typer.Option(
        None, "--search", metavar="WORDS", help="Words in name or description."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Modules the enabled repositories offer."""
    with Api(as_json=as_json) as api:
        result = api.get("/repository/modules", params={"repository": repository, "search": search})
    if as_json:
        print_json(result)
        return
    table = Table("module", "latest", "versions", "category", "repository", "instances")
    for module in result["modules"]:
        table.add_row(
            module["name"],
            module["latest_version"],
            ", ".join(module["versions"]),
            module.get("category") or "",
            module["repository_id"],
            str(module["instance_count"]),
        )
    out.print(table)
    for repository_id, error in result["errors"].items():
        console.print(f"[yellow]warning:[/yellow] repository {repository_id}: {error}")


@modules_app.command("install")
def modules_install(
    module_name: str = typer.Argument(..., metavar="MODULE", help="The module's name."),
    version: str | None = typer.Option(
        None, "--version", metavar="VERSION", help="Default: the newest."
    ),
    repository: str | None = typer.Option(
        None, "--repository", metavar="REPOSITORY", help="Repository id."
    ),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Install a new instance of a module."""
    body = {"module_name": module_name, "repository_id": repository, "version": version}
    with Api(as_json=as_json) as api:
        result = _start_and_follow(
            api, "POST", "/modules/install-instance", follow=follow, json=body
        )
        _report(api, result, follow=follow)


@modules_app.command("updates")
def modules_updates(
    module_name: str | None = typer.Option(
        None, "--module", metavar="MODULE", help="Only this module."
    ),
    prereleases: bool = typer.Option(False, "--pre", help="Count pre-releases as updates."),
    cached: bool = typer.Option(False, "--cached", help="Use the cached repository indexes."),
    as_json: bool = JsonOption,
) -> None:
    """Newer versions of installed modules, in every enabled repository."""
    params = {
        "module_name": module_name,
        "prereleases": str(prereleases).lower(),
        "refresh": str(not cached).lower(),
    }
    with Api(as_json=as_json) as api:
        result = api.get("/modules/updates/check", params=params)
    if as_json:
        print_json(result)
        return
    table = Table("module", "installed", "newest", "repository", "update")
    for module in result["modules"]:
        note = "no"
        if module["update_available"]:
            note = "yes"
            if module["requires_repository"]:
                note = f"yes: --repository {module['latest_repository_id']}"
        table.add_row(
            module["module_name"],
            ", ".join(module["installed_versions"]),
            module.get("latest_version") or "",
            module.get("latest_repository_id") or "",
            note,
        )
    out.print(table)
    for repository_id, error in result["errors"].items():
        console.print(f"[yellow]warning:[/yellow] repository {repository_id}: {error}")


@modules_app.command("update")
def modules_update(
    module_name: str = typer.Argument(..., metavar="MODULE", help="The module's name."),
    instance_id: str | None = typer.Option(
        None, "--instance", metavar="INSTANCE", help="Only this instance (default: all)."
    ),
    version: str | None = typer.Option(
        None, "--version", metavar="VERSION", help="Default: the newest."
    ),
    repository: str | None = typer.Option(
        None,
        "--repository",
        metavar="REPOSITORY",
        help="Take the version from this repository (default: the one the instances came "
        "from; naming another moves them there).",
    ),
    prereleases: bool = typer.Option(False, "--pre", help="The newest may be a pre-release."),
    yes: bool = typer.Option(False, "--yes", help="Go on across a major version without asking."),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Update a module's instances; an unhealthy update rolls back."""
    body = {
        "module_name": module_name,
        "instance_id": instance_id,
        "version": version,
        "repository_id": repository,
        "prereleases": prereleases,
        "answers": {MAJOR_UPDATE: "continue"} if yes else None,
    }
    with Api(as_json=as_json) as api:
        result = _start_and_follow(api, "POST", "/modules/update", follow=follow, json=body)
        _report(api, result, follow=follow)


def _lifecycle(
    action: str, module_name: str, instance_id: str, *, follow: bool, as_json: bool
) -> None:
    with Api(as_json=as_json) as api:
        result = _start_and_follow(
            api, "POST", f"/modules/instance/{module_name}/{instance_id}/{action}", follow=follow
        )
        _report(api, result, follow=follow)


ModuleArgument = typer.Argument(..., metavar="MODULE", help="The module's name.")
InstanceArgument = typer.Argument(..., metavar="INSTANCE", help="The instance's 32-character id.")


@modules_app.command("stop")
def modules_stop(
    module_name: str = ModuleArgument,
    instance_id: str = InstanceArgument,
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop an instance (its files stay)."""
    _lifecycle("stop", module_name, instance_id, follow=follow, as_json=as_json)


@modules_app.command("start")
def modules_start(
    module_name: str = ModuleArgument,
    instance_id: str = InstanceArgument,
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a stopped instance and wait until it is healthy."""
    _lifecycle("start", module_name, instance_id, follow=follow, as_json=as_json)


@modules_app.command("restart")
def modules_restart(
    module_name: str = ModuleArgument,
    instance_id: str = InstanceArgument,
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop and start an instance again."""
    _lifecycle("restart", module_name, instance_id, follow=follow, as_json=as_json)


@modules_app.command("instances")
def modules_instances(
    module_name: str | None = typer.Option(
        None, "--module", metavar="MODULE", help="Only this module."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Installed instances with their live status."""
    with Api(as_json=as_json) as api:
        result = api.get("/modules/instances", params={"module_name": module_name})
    if as_json:
        print_json(result)
        return
    table = Table("module", "version", "status", "primary", "frontend")
    table.add_column("instance", no_wrap=True)
    for group in result["modules"]:
        for instance in group["instances"]:
            table.add_row(
                group["module_name"],
                instance["version"],
                instance["status"],
                "yes" if instance["is_primary"] else "",
                instance.get("frontend_url") or "",
                instance["instance_id"],
            )
    out.print(table)


@modules_app.command("logs")
def modules_logs(
    module_name: str = ModuleArgument,
    instance_id: str = InstanceArgument,
    lines: int = typer.Option(
        100, "--lines", "-n", min=1, max=5000, metavar="N", help="How many lines."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing what the instance writes (Ctrl-C ends)."
    ),
    interval: float = typer.Option(
        1.0,
        "--interval",
        min=0.1,
        max=60.0,
        metavar="SECONDS",
        help="Seconds between looks while following.",
    ),
    seconds: float | None = typer.Option(
        None,
        "--seconds",
        min=0.1,
        metavar="SECONDS",
        help="Stop following after this long (default: never).",
    ),
) -> None:
    """An instance's output (stdout and stderr): the last lines, and with -f what follows."""
    path = f"/modules/instance/{module_name}/{instance_id}/logs"
    deadline = None if seconds is None else time.monotonic() + seconds
    with Api() as api:
        chunk = api.get(path, params={"lines": lines})
        _print_lines(chunk["lines"])
        try:
            while follow and (deadline is None or time.monotonic() < deadline):
                time.sleep(interval)
                chunk = api.get(path, params={"lines": lines, "after": chunk["cursor"]})
                _print_lines(chunk["lines"])
        except KeyboardInterrupt:
            pass


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)  # noqa: T201 - the log itself, unformatted


@modules_app.command("remove")
def modules_remove(
    module_name: str = ModuleArgument,
    instance_id: str = InstanceArgument,
    new_primary: str | None = typer.Option(
        None,
        "--new-primary",
        metavar="INSTANCE",
        help="Removing the primary instance: the instance that becomes primary (else you are "
        "asked when there are several).",
    ),
    follow: bool = FollowOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop and remove an instance with its files."""
    with Api(as_json=as_json) as api:
        result = _start_and_follow(
            api,
            "DELETE",
            f"/modules/instance/{module_name}/{instance_id}",
            follow=follow,
            params={"new_primary": new_primary},
        )
        _report(api, result, follow=follow)


@modules_app.command("pins")
def modules_pins(
    repository: str | None = typer.Option(
        None, "--repository", metavar="REPOSITORY", help="Only this repository."
    ),
    module_name: str | None = typer.Option(
        None, "--module", metavar="MODULE", help="Only this module."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Pinned archive checksums: what each module version was when first installed."""
    params = {"repository_id": repository, "module_name": module_name, "per_page": 200}
    with Api(as_json=as_json) as api:
        pins = api.get("/repository/pins", params=params)["items"]
    if as_json:
        print_json(pins)
        return
    table = Table("repository", "module", "version", "pinned")
    table.add_column("sha256", no_wrap=True)
    for pin in pins:
        table.add_row(
            pin["repository_id"],
            pin["module_name"],
            pin["version"],
            pin["pinned_at"],
            pin["sha256"],
        )
    out.print(table)


@modules_app.command("unpin")
def modules_unpin(
    repository: str = typer.Argument(..., metavar="REPOSITORY", help="The repository's id."),
    module_name: str = ModuleArgument,
    version: str = typer.Argument(..., metavar="VERSION", help="The version whose pin to clear."),
    as_json: bool = JsonOption,
) -> None:
    """Clear a pin: the next install of that version trusts whatever archive it gets."""
    params = {"repository_id": repository, "module_name": module_name, "per_page": 200}
    with Api(as_json=as_json) as api:
        pins = api.get("/repository/pins", params=params)["items"]
        sha256 = next((p["sha256"] for p in pins if p["version"] == version), None)
        api.delete(f"/repository/pins/{repository}/{module_name}/{version}")
    if as_json:
        print_json({"cleared": True, "sha256": sha256})
        return
    was = f" ({sha256})" if sha256 else ""
    console.print(f"Cleared the pin of {module_name} {version} from {repository}{was}.")
