"""`stellwerk modules`: the catalog, installing, updating, listing, stopping, starting and
removing module instances.

These start the same durable operations as the API; the workers of the running `stellwerk serve`
on this data directory carry them out while the command draws the progress. An operation that
stops with a question asks it at the terminal (or says how to answer it with `stellwerk ops
answer`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

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
from stellwerk.cli.progress import describe_prompts, follow_operation
from stellwerk.config import Settings
from stellwerk.exceptions import StellwerkError
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import iso
from stellwerk.models import Operation
from stellwerk.module import workflow
from stellwerk.module.pins import module_pin
from stellwerk.module.schemas import (
    CatalogResponse,
    ModuleInstancesResponse,
    OperationResponse,
    PinRead,
    UpdatesCheckResponse,
)
from stellwerk.module.service import catalog, module_instance
from stellwerk.module.updates import module_update
from stellwerk.operation.service import operation as operation_service
from stellwerk.runtime import Runtime

modules_app = typer.Typer(
    help="Modules: the repositories' catalog and installed instances.", no_args_is_help=True
)

FollowOption = typer.Option(True, "--follow/--no-follow", help="Wait and show progress.")
TIMEOUT_SECONDS = 600.0


def _start_and_follow(
    settings: Settings, start: Any, *, follow: bool, as_json: bool
) -> OperationResponse:
    """Start an operation in one transaction, then (optionally) follow it to its end."""

    async def main() -> OperationResponse:
        async with open_runtime(settings) as runtime:
            async with runtime.database.session() as session:
                operation: Operation = await start(runtime, session)
            if follow:
                operation = await follow_operation(
                    runtime, operation.id, timeout=TIMEOUT_SECONDS, quiet=as_json
                )
            async with runtime.database.session() as session:
                prompts = await operation_service.open_prompts(session, [operation])
            if prompts and not as_json:
                describe_prompts(operation.id, prompts[operation.id])
            return module_instance.response(
                operation,
                status_prefix="/modules/status",
                prompts=prompts.get(operation.id, ()),
            )

    try:
        return asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)


def _report(result: OperationResponse, *, follow: bool, as_json: bool) -> None:
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif follow and result.status == "queued":
        fail("The operation is still queued: is `stellwerk serve` running on this data directory?")
    elif result.status == "waiting":
        console.print(f"Operation {result.operation_id} waits for an answer (see above).")
    else:
        console.print(f"Operation {result.operation_id}: {result.status} - {result.message}")
    if result.status in ("failed", "cancelled"):
        raise typer.Exit(1)


@modules_app.command("list")
def modules_list(
    repository: str | None = typer.Option(None, "--repository", help="Only this repository."),
    search: str | None = typer.Option(None, "--search", help="Words in name or description."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Modules the enabled repositories offer."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: Any) -> CatalogResponse:
        return await catalog.modules(
            session, runtime.settings, repository_id=repository, search=search
        )

    result = run_in_session(settings, work)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table("module", "latest", "versions", "category", "repository", "instances")
    for module in result.modules:
        table.add_row(
            module.name,
            module.latest_version,
            ", ".join(module.versions),
            module.category or "",
            module.repository_id,
            str(module.instance_count),
        )
    out.print(table)
    for repository_id, error in result.errors.items():
        console.print(f"[yellow]warning:[/yellow] repository {repository_id}: {error}")


@modules_app.command("install")
def modules_install(
    module_name: str = typer.Argument(..., help="The module's name."),
    version: str | None = typer.Option(None, "--version", help="Default: the newest."),
    repository: str | None = typer.Option(None, "--repository", help="Repository id."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Install a new instance of a module."""
    settings = load_settings(**data_dir_override(data_dir))

    async def start(runtime: Runtime, session: Any) -> Operation:
        return await module_instance.start_install(
            session,
            runtime.settings,
            Actor.cli(),
            module_name=module_name,
            repository_id=repository,
            version=version,
        )

    result = _start_and_follow(settings, start, follow=follow, as_json=as_json)
    _report(result, follow=follow, as_json=as_json)


@modules_app.command("updates")
def modules_updates(
    module_name: str | None = typer.Option(None, "--module", help="Only this module."),
    prereleases: bool = typer.Option(False, "--pre", help="Count pre-releases as updates."),
    cached: bool = typer.Option(False, "--cached", help="Use the cached repository indexes."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Newer versions of installed modules, in every enabled repository."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: Any) -> UpdatesCheckResponse:
        return await module_update.check(
            session,
            runtime.settings,
            module_name=module_name,
            prereleases=prereleases,
            refresh=not cached,
        )

    result = run_in_session(settings, work)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table("module", "installed", "newest", "repository", "update")
    for module in result.modules:
        note = "no"
        if module.update_available:
            note = "yes"
            if module.requires_repository:
                note = f"yes: --repository {module.latest_repository_id}"
        table.add_row(
            module.module_name,
            ", ".join(module.installed_versions),
            module.latest_version or "",
            module.latest_repository_id or "",
            note,
        )
    out.print(table)
    for repository_id, error in result.errors.items():
        console.print(f"[yellow]warning:[/yellow] repository {repository_id}: {error}")


@modules_app.command("update")
def modules_update(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str | None = typer.Option(
        None, "--instance", help="Only this instance (default: all)."
    ),
    version: str | None = typer.Option(None, "--version", help="Default: the newest."),
    repository: str | None = typer.Option(
        None,
        "--repository",
        help="Take the version from this repository (default: the one the instances came "
        "from; naming another moves them there).",
    ),
    prereleases: bool = typer.Option(False, "--pre", help="The newest may be a pre-release."),
    yes: bool = typer.Option(False, "--yes", help="Go on across a major version without asking."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Update a module's instances; an unhealthy update rolls back."""
    settings = load_settings(**data_dir_override(data_dir))

    async def start(runtime: Runtime, session: Any) -> Operation:
        return await module_instance.start_update(
            session,
            runtime.settings,
            Actor.cli(),
            module_name=module_name,
            instance_id=instance_id,
            version=version,
            repository_id=repository,
            prereleases=prereleases,
            answers={workflow.MAJOR_UPDATE: "continue"} if yes else None,
        )

    result = _start_and_follow(settings, start, follow=follow, as_json=as_json)
    _report(result, follow=follow, as_json=as_json)


def _lifecycle(action: str, module_name: str, instance_id: str, **options: Any) -> None:
    settings = load_settings(**data_dir_override(options["data_dir"]))

    async def start(runtime: Runtime, session: Any) -> Operation:
        instance = await module_instance.get(session, module_name, instance_id)
        return await module_instance.start_lifecycle(session, Actor.cli(), instance, action)

    result = _start_and_follow(
        settings, start, follow=options["follow"], as_json=options["as_json"]
    )
    _report(result, follow=options["follow"], as_json=options["as_json"])


@modules_app.command("stop")
def modules_stop(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop an instance (its files stay)."""
    _lifecycle("stop", module_name, instance_id, follow=follow, data_dir=data_dir, as_json=as_json)


@modules_app.command("start")
def modules_start(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a stopped instance and wait until it is healthy."""
    _lifecycle("start", module_name, instance_id, follow=follow, data_dir=data_dir, as_json=as_json)


@modules_app.command("restart")
def modules_restart(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop and start an instance again."""
    _lifecycle(
        "restart", module_name, instance_id, follow=follow, data_dir=data_dir, as_json=as_json
    )


@modules_app.command("instances")
def modules_instances(
    module_name: str | None = typer.Option(None, "--module", help="Only this module."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Installed instances with their live status."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: Any) -> ModuleInstancesResponse:
        return await module_instance.list(session, runtime.settings, module_name=module_name)

    result = run_in_session(settings, work)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table("module", "version", "status", "primary", "frontend")
    table.add_column("instance", no_wrap=True)
    for group in result.modules:
        for instance in group.instances:
            table.add_row(
                group.module_name,
                instance.version,
                instance.status,
                "yes" if instance.is_primary else "",
                instance.frontend_url or "",
                instance.instance_id,
            )
    out.print(table)


@modules_app.command("logs")
def modules_logs(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    lines: int = typer.Option(100, "--lines", "-n", min=1, max=5000, help="How many lines."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing what the instance writes (Ctrl-C ends)."
    ),
    interval: float = typer.Option(
        1.0, "--interval", min=0.1, max=60.0, help="Seconds between looks while following."
    ),
    seconds: float | None = typer.Option(
        None, "--seconds", min=0.1, help="Stop following after this long (default: never)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """An instance's output (stdout and stderr): the last lines, and with -f what follows."""
    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            async with runtime.database.session() as session:
                instance = await module_instance.get(session, module_name, instance_id)
            chunk = await module_instance.logs(runtime.settings, instance, lines=lines)
            _print_lines(chunk.lines)
            deadline = None if seconds is None else time.monotonic() + seconds
            while follow and (deadline is None or time.monotonic() < deadline):
                await asyncio.sleep(interval)
                chunk = await module_instance.logs(
                    runtime.settings, instance, lines=lines, after=chunk.cursor
                )
                _print_lines(chunk.lines)

    try:
        asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)
    except KeyboardInterrupt:
        pass


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)  # noqa: T201 - the log itself, unformatted


@modules_app.command("remove")
def modules_remove(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    new_primary: str | None = typer.Option(
        None,
        "--new-primary",
        help="Removing the primary instance: the instance that becomes primary (else you are "
        "asked when there are several).",
    ),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop and remove an instance with its files."""
    settings = load_settings(**data_dir_override(data_dir))

    async def start(runtime: Runtime, session: Any) -> Operation:
        instance = await module_instance.get(session, module_name, instance_id)
        return await module_instance.start_remove(
            session, Actor.cli(), instance, new_primary=new_primary
        )

    result = _start_and_follow(settings, start, follow=follow, as_json=as_json)
    _report(result, follow=follow, as_json=as_json)


@modules_app.command("pins")
def modules_pins(
    repository: str | None = typer.Option(None, "--repository", help="Only this repository."),
    module_name: str | None = typer.Option(None, "--module", help="Only this module."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Pinned archive checksums: what each module version was when first installed."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: Any) -> list[PinRead]:
        rows, _ = await module_pin.list(
            session,
            params=PageParams(page=1, per_page=200),
            repository_id=repository,
            module_name=module_name,
        )
        return [PinRead.model_validate(row) for row in rows]

    pins = run_in_session(settings, work)
    if as_json:
        print_json([pin.model_dump(mode="json") for pin in pins])
        return
    table = Table("repository", "module", "version", "pinned")
    table.add_column("sha256", no_wrap=True)
    for pin in pins:
        table.add_row(
            pin.repository_id, pin.module_name, pin.version, iso(pin.pinned_at), pin.sha256
        )
    out.print(table)


@modules_app.command("unpin")
def modules_unpin(
    repository: str = typer.Argument(..., help="The repository's id."),
    module_name: str = typer.Argument(..., help="The module's name."),
    version: str = typer.Argument(..., help="The version whose pin to clear."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Clear a pin: the next install of that version trusts whatever archive it gets."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: Any) -> str:
        pin = await module_pin.get(session, repository, module_name, version)
        await module_pin.clear(session, Actor.cli(), pin)
        return pin.sha256

    sha256 = run_in_session(settings, work)
    console.print(f"Cleared the pin of {module_name} {version} from {repository} ({sha256}).")
