"""`stellwerk servers`: list, create (with a progress display), act on and import servers;
`stellwerk secrets rotate`: re-encrypt every provider API key under a new key."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, check_choice, console, out, print_json
from stellwerk.cli.progress import follow_operation

servers_app = typer.Typer(
    help="Servers at Linode, DigitalOcean and Hetzner: list, create, act, import.",
    no_args_is_help=True,
)
secrets_app = typer.Typer(help="Provider API keys at rest.", no_args_is_help=True)

PROVIDER_TYPES = ("linode", "digitalocean", "hetzner")
ACTIONS = ("boot", "power_on", "shutdown", "power_off", "reboot", "power_cycle", "delete")
FOLLOW_SECONDS = 1800.0


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
    limit: int = typer.Option(100, "--limit", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """List your servers (everyone's for staff and admins), newest first."""
    with Api(as_json=as_json) as api:
        listed = api.get("/api/vps", params={"per_page": limit})
    _show(listed["instances"], as_json)


@servers_app.command("create")
def servers_create(
    label: str = typer.Option(..., "--label", metavar="NAME", help="The server's name."),
    plan_id: str | None = typer.Option(
        None,
        "--plan",
        metavar="PLAN",
        help="A plan's id (`GET /api/vps/plans`): provider and size come from it.",
    ),
    plan: str | None = typer.Option(
        None, "--type", metavar="SIZE", help="Size: DigitalOcean size, Linode type or server type."
    ),
    region: str | None = typer.Option(
        None, "--region", metavar="REGION", help="Region or location."
    ),
    image: str | None = typer.Option(None, "--image", metavar="IMAGE", help="Image slug."),
    provider: str | None = typer.Option(None, "--provider", metavar="ID", help="Provider id."),
    provider_type: str | None = typer.Option(
        None,
        "--provider-type",
        metavar="TYPE",
        help="linode, digitalocean or hetzner (its first provider).",
    ),
    root_password: str | None = typer.Option(
        None,
        "--root-password",
        metavar="PASSWORD",
        help="Root password (asked for nowhere else; not stored).",
    ),
    ssh_keys: list[str] = typer.Option(
        [], "--ssh-key", metavar="KEY", help="SSH key id or public key (repeatable)."
    ),
    tags: list[str] = typer.Option([], "--tag", metavar="TAG", help="A tag (repeatable)."),
    app_slug: str | None = typer.Option(
        None, "--app", metavar="SLUG", help="DigitalOcean 1-Click app."
    ),
    stackscript: int | None = typer.Option(
        None, "--stackscript-id", metavar="ID", help="Linode StackScript."
    ),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", metavar="KEY", help="The same key never creates a second server."
    ),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Wait and show progress."),
    as_json: bool = JsonOption,
) -> None:
    """Create a server; its creation runs on the server's workers."""
    if provider_type is not None:
        check_choice("--provider-type", provider_type, PROVIDER_TYPES, as_json=as_json)
    body: dict[str, Any] = {
        "provider_id": provider,
        "provider_type": provider_type,
        "plan_id": plan_id,
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
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with Api(as_json=as_json) as api:
        result = api.post("/api/vps", json=body, headers=headers)["instance"]
        if follow and result["operation_id"] is not None:
            follow_operation(api, result["operation_id"], timeout=FOLLOW_SECONDS, quiet=as_json)
            result = api.get(f"/api/vps/{result['id']}")["instance"]
        if as_json:
            print_json(result)
            return
        if follow and result["status"] == "provisioning" and not result["provider_instance_id"]:
            api.fail("The server is still queued: are the server's workers running?")
    console.print(
        f"Server {result['id']} ({result['label']}): {result['status']}"
        + (f", {result['ip_address']}" if result["ip_address"] else "")
    )


@servers_app.command("action")
def servers_action(
    instance_id: str = typer.Argument(..., metavar="SERVER", help="The server's id."),
    action: str = typer.Argument(..., metavar="ACTION", help=", ".join(ACTIONS) + "."),
    as_json: bool = JsonOption,
) -> None:
    """Run an action on a server (routed to its provider)."""
    check_choice("ACTION", action, ACTIONS, as_json=as_json)
    with Api(as_json=as_json) as api:
        answer = api.post(f"/api/vps/{instance_id}/action", json={"action": action})
        instance = api.get(f"/api/vps/{instance_id}")["instance"] if action != "delete" else None
    if as_json:
        print_json({**answer, "instance": instance})
        return
    state = f" (now {instance['status']})" if instance else ""
    console.print(f"Action {action} initiated for {instance_id}{state}.")


@servers_app.command("import")
def servers_import(
    provider: str = typer.Option(..., "--provider", metavar="ID", help="Provider id."),
    user: str | None = typer.Option(
        None, "--user", metavar="USER", help="Whose servers they become (default: you)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Adopt the servers that already exist at a provider (existing installations)."""
    with Api(as_json=as_json) as api:
        adopted = api.post(f"/api/admin/providers/{provider}/import", params={"owner": user})
    if as_json:
        print_json(adopted)
        return
    console.print(f"Adopted {len(adopted)} server(s).")
    if adopted:
        _show(adopted, False)


@secrets_app.command("rotate")
def secrets_rotate(as_json: bool = JsonOption) -> None:
    """Re-encrypt every provider API key under a new key; the old key decrypts nothing after."""
    with Api(as_json=as_json) as api:
        result = api.post("/api/admin/providers/rotate-secrets")
    if as_json:
        print_json(result)
        return
    console.print(
        f"Re-encrypted {result['providers']} provider key(s) with key generation "
        f"{result['generation']}."
    )
