"""`stellwerk servers`: list, create (with a progress display), act on and import servers;
`stellwerk secrets rotate`: re-encrypt every provider API key under a new key."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk import workflows
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
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.principal import Principal
from stellwerk.identity.role import Role
from stellwerk.kit.pagination import PageParams
from stellwerk.runtime import Runtime
from stellwerk.server.repository import InstanceRepository
from stellwerk.server.router import instance_read
from stellwerk.server.service import instance_service, provider_service

servers_app = typer.Typer(
    help="Servers at Linode, DigitalOcean and Hetzner: list, create, act, import.",
    no_args_is_help=True,
)
secrets_app = typer.Typer(help="Provider API keys at rest.", no_args_is_help=True)
# Operations are started here and run by `stellwerk serve`; their kinds must be known.
assert workflows.__all__

UserOption = typer.Option(
    None, "--user", help="Whose servers (username; default: the first admin)."
)


def _show(instances: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(instances)
        return
    table = Table("id", "label", "provider", "status", "ip", "region", "type")
    for i in instances:
        table.add_row(
            str(i["id"]),
            i["label"],
            str(i["provider_type"]),
            i["status"],
            i["ip_address"] or "",
            i["region"] or "",
            i["type"] or "",
        )
    out.print(table)


@servers_app.command("list")
def servers_list(
    user: str | None = UserOption,
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List a user's servers, newest first."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        owner = await instance_service.owner(session, user)
        # The owner's servers: what they see as a customer.
        rows, _ = await instance_service.list(
            session,
            Principal(user_id=owner.id, role=Role.CUSTOMER),
            params=PageParams(page=1, per_page=limit),
        )
        return [instance_read(i).model_dump(mode="json") for i in rows]

    _show(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


@servers_app.command("create")
def servers_create(
    label: str = typer.Option(..., "--label", help="The server's name."),
    plan: str = typer.Option(..., "--type", help="Plan: size, Linode type or server type."),
    region: str = typer.Option(..., "--region", help="Region or location."),
    image: str = typer.Option(..., "--image", help="Image slug."),
    provider: uuid.UUID | None = typer.Option(None, "--provider", help="Provider id."),
    provider_type: str | None = typer.Option(
        None, "--provider-type", help="linode, digitalocean or hetzner (its first provider)."
    ),
    root_password: str | None = typer.Option(
        None, "--root-password", help="Root password (asked for nowhere else; not stored)."
    ),
    ssh_keys: list[str] = typer.Option([], "--ssh-key", help="SSH key id or public key."),
    tags: list[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    app_slug: str | None = typer.Option(None, "--app", help="DigitalOcean 1-Click app."),
    stackscript: int | None = typer.Option(None, "--stackscript-id", help="Linode StackScript."),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
    user: str | None = UserOption,
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Wait and show progress."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a server; its creation runs on the server's workers (`stellwerk serve`)."""
    settings = load_settings(**data_dir_override(data_dir))
    body: dict[str, Any] = {
        "provider_id": provider,
        "provider_type": provider_type,
        "label": label,
        "type": plan,
        "region": region,
        "image": image,
        "rootPassword": root_password,
        "sshKeys": list(ssh_keys),
        "tags": list(tags),
        "appSlug": app_slug,
        "stackscriptId": stackscript,
    }

    async def main() -> dict[str, Any]:
        async with open_runtime(settings) as runtime:
            async with runtime.database.session() as session:
                owner = await instance_service.owner(session, user)
                instance, _ = await instance_service.create(
                    session,
                    Actor.cli(owner.id, owner.username),
                    owner,
                    settings=settings,
                    body=body,
                    idempotency_key=idempotency_key,
                )
                instance_id, operation_id = instance.id, instance.operation_id
            if follow and operation_id is not None:
                await follow_operation(
                    runtime,
                    operation_id,
                    timeout=settings.servers_provision_timeout_seconds + 60,
                    quiet=as_json,
                )
            async with runtime.database.session() as session:
                current = await InstanceRepository(session).get(instance_id)
                assert current is not None
                return instance_read(current).model_dump(mode="json")

    try:
        result = asyncio.run(main())
    except StellwerkError as error:
        fail(f"{error.message} ({error.code}{', ' + error.field if error.field else ''})")
    if as_json:
        print_json(result)
        return
    if follow and result["status"] == "provisioning" and not result["provider_instance_id"]:
        fail("The server is still queued: is `stellwerk serve` running on this data directory?")
    console.print(
        f"Server {result['id']} ({result['label']}): {result['status']}"
        + (f", {result['ip_address']}" if result["ip_address"] else "")
    )


@servers_app.command("action")
def servers_action(
    instance_id: uuid.UUID = typer.Argument(..., help="The instance's id."),
    action: str = typer.Argument(
        ..., help="boot, power_on, shutdown, power_off, reboot, power_cycle or delete."
    ),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Run an action on a server (routed to its provider)."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        owner = await instance_service.owner(session, user)
        instance = await instance_service.get(
            session, Principal(user_id=owner.id, role=Role.CUSTOMER), instance_id
        )
        await instance_service.action(
            session,
            Actor.cli(owner.id, owner.username),
            instance,
            settings=runtime.settings,
            action=action,
        )
        return instance_read(instance).model_dump(mode="json")

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(
            {
                "success": True,
                "message": f"Action {action} initiated successfully",
                "instance": result,
            }
        )
        return
    console.print(f"Action {action} initiated for {instance_id} (now {result['status']}).")


@servers_app.command("import")
def servers_import(
    provider: uuid.UUID = typer.Option(..., "--provider", help="Provider id."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Adopt the servers that already exist at a provider (existing installations)."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        owner = await instance_service.owner(session, user)
        adopted = await instance_service.import_servers(
            session,
            Actor.cli(owner.id, owner.username),
            settings=runtime.settings,
            provider_id=provider,
            owner=owner,
        )
        return [instance_read(i).model_dump(mode="json") for i in adopted]

    adopted = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(adopted)
        return
    console.print(f"Adopted {len(adopted)} server(s).")
    if adopted:
        _show(adopted, False)


@secrets_app.command("rotate")
def secrets_rotate(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Re-encrypt every provider API key under a new key; the old key decrypts nothing after."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[int, int]:
        generation = await provider_service.rotate_secrets(
            session, Actor.cli(), settings=runtime.settings
        )
        return generation, len(await provider_service.list(session))

    generation, count = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"success": True, "providers": count, "generation": generation})
        return
    console.print(f"Re-encrypted {count} provider key(s) with key generation {generation}.")
