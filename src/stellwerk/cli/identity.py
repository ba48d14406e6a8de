"""`stellwerk admin|token|apikey`: users, API tokens and the system API key. `admin create`
works on the database (for the first admin); the others go through the server's API."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    check_choice,
    console,
    data_dir_override,
    load_settings,
    out,
    print_json,
    run_in_session,
)
from stellwerk.identity.scope import ALL_SCOPES, sorted_scopes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from stellwerk.models import User
    from stellwerk.runtime import Runtime


admin_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens (nrx_…).", no_args_is_help=True)
apikey_app = typer.Typer(
    help="The system API key license clients send as X-API-Key.", no_args_is_help=True
)


@admin_app.command("create")
def admin_create(
    username: str = typer.Option(
        ..., "--username", "-u", metavar="NAME", help="The new admin's username."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    role: str = typer.Option(
        "admin", "--role", metavar="ROLE", help="admin (the default), staff or customer."
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a user (an admin by default). Without --password-stdin, asks for the password.
    Works on the database directly; needs no running server (for the first admin)."""
    from stellwerk.audit.actor import Actor
    from stellwerk.identity import service as identity_service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(runtime: Runtime, session: AsyncSession) -> User:
        return await identity_service.user.create(
            session, Actor.cli(), username=username, password=password, role=role
        )

    user = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"id": user.id, "username": user.username, "role": user.role})
    else:
        console.print(f"Created {user.role} [bold]{user.username}[/bold] (id {user.id}).")


@token_app.command("create")
def token_create(
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        "-s",
        metavar="SCOPE",
        help=f"A scope to grant (repeatable): {', '.join(sorted_scopes(ALL_SCOPES))}.",
    ),
    name: str = typer.Option(
        "cli", "--name", "-n", metavar="NAME", help="A name to recognise the token by."
    ),
    expires_in_days: int | None = typer.Option(
        None,
        "--expires-in-days",
        metavar="DAYS",
        min=1,
        help="Let the token expire after this many days.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create an API token of yours. It is printed once; only its hash is stored."""
    for value in scope:
        check_choice("--scope", value, ALL_SCOPES, as_json=as_json)
    expires_at = (
        (dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)).isoformat()
        if expires_in_days
        else None
    )
    body = {"name": name, "scopes": scope, "expires_at": expires_at}
    with Api(as_json=as_json) as api:
        token = api.post("/api/tokens", json=body)
    if as_json:
        print_json(token)
        return
    scopes = " ".join(token["scopes"])
    console.print(f"Token [bold]{token['name']}[/bold] (id {token['id']}), scopes: {scopes}")
    console.print("Store it now; it will not be shown again:")
    out.print(token["token"], soft_wrap=True)


def _users(api: Api) -> list[dict[str, Any]]:
    return list(api.items("/api/admin/users"))


@token_app.command("list")
def token_list(
    user: str | None = typer.Option(
        None, "--user", metavar="USER", help="Only this user's tokens (admins see everyone's)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """List your API tokens (everyone's for admins), never their values."""
    with Api(as_json=as_json) as api:
        tokens = list(api.items("/api/tokens"))
        if user:
            ids = {u["id"] for u in _users(api) if u["username"] == user}
            if not ids:
                api.fail(f"No user named {user}", code="not_found")
            tokens = [t for t in tokens if t["user_id"] in ids]
    if as_json:
        print_json(tokens)
        return
    table = Table("id", "name", "prefix", "scopes", "user", "expires", "last used", "state")
    for t in tokens:
        state = "revoked" if t["revoked_at"] else "active"
        table.add_row(
            str(t["id"]),
            t["name"],
            t["prefix"] + "…",
            " ".join(t["scopes"]),
            str(t["user_id"]),
            t["expires_at"] or "-",
            t["last_used_at"] or "-",
            state,
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(
        ..., metavar="TOKEN_ID", help="The token's id (see `stellwerk token list`)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Revoke an API token; requests with it are refused from now on."""
    with Api(as_json=as_json) as api:
        token = api.delete(f"/api/tokens/{token_id}")
    if as_json:
        print_json(token)
    else:
        console.print(f"Revoked token {token['id']} ({token['name']}).")


@apikey_app.command("rotate")
def apikey_rotate(as_json: bool = JsonOption) -> None:
    """Replace the system API key. The old key stops working at once; the new one prints once."""
    with Api(as_json=as_json) as api:
        plain = api.post("/api/admin/api-key/rotate")["api_key"]
    if as_json:
        print_json({"api_key": plain})
    else:
        console.print("New system API key (the old one no longer works). Store it now:")
        out.print(plain)
