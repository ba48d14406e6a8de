"""`stellwerk modules`: the catalog, installing, listing and removing module instances.

Install and remove start the same durable operations as the API; the workers of the running
`stellwerk serve` on this data directory carry them out while the command draws the progress.
"""

from __future__ import annotations

import asyncio
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
from stellwerk.cli.progress import follow_operation
from stellwerk.config import Settings
from stellwerk.exceptions import StellwerkError
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import iso
from stellwerk.models import Operation
from stellwerk.module.pins import module_pin
from stellwerk.module.schemas import (
    CatalogResponse,
    ModuleInstancesResponse,
    OperationResponse,
    PinRead,
)
from stellwerk.module.service import catalog, module_instance
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
            return module_instance.response(operation, status_prefix="/modules/status")

    try:
        return asyncio.run(main())
    except StellwerkError as error:
        fail(error.message)


def _report(result: OperationResponse, *, follow: bool, as_json: bool) -> None:
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif follow and result.status == "queued":
        fail("The operation is still queued: is `stellwerk serve` running on this data directory?")
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
    table = Table("module", "version", "status", "primary")
    table.add_column("instance", no_wrap=True)
    for group in result.modules:
        for instance in group.instances:
            table.add_row(
                group.module_name,
                instance.version,
                instance.status,
                "yes" if instance.is_primary else "",
                instance.instance_id,
            )
    out.print(table)


@modules_app.command("remove")
def modules_remove(
    module_name: str = typer.Argument(..., help="The module's name."),
    instance_id: str = typer.Argument(..., help="The instance's 32-character id."),
    follow: bool = FollowOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop and remove an instance with its files."""
    settings = load_settings(**data_dir_override(data_dir))

    async def start(runtime: Runtime, session: Any) -> Operation:
        instance = await module_instance.get(session, module_name, instance_id)
        return await module_instance.start_remove(session, Actor.cli(), instance)

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
