"""`stellwerk admin|token|apikey`: users, API tokens and the system API key."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

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
    out,
    print_json,
    run_in_session,
)
from stellwerk.identity import service as identity_service
from stellwerk.identity.principal import Principal
from stellwerk.identity.repository import UserRepository
from stellwerk.identity.role import Role
from stellwerk.identity.schemas import TokenRead
from stellwerk.identity.scope import ALL_SCOPES, sorted_scopes
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import iso, utc_now
from stellwerk.models import User
from stellwerk.runtime import Runtime

admin_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens (nrx_…).", no_args_is_help=True)
apikey_app = typer.Typer(
    help="The system API key license clients send as X-API-Key.", no_args_is_help=True
)


@admin_app.command("create")
def admin_create(
    username: str = typer.Option(..., "--username", "-u", help="The new admin's username."),
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


async def _owner(session: AsyncSession, username: str | None) -> User:
    repository = UserRepository(session)
    if username:
        user = await repository.get_by_username(username)
        if user is None:
            fail(f"No user named {username}")
        return user
    users, _ = await repository.list(offset=0, limit=1000)
    admins = [u for u in users if u.is_admin and u.is_active]
    if not admins:
        fail("There is no admin yet; create one with `stellwerk admin create`")
    return admins[0]


@token_app.command("create")
def token_create(
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        "-s",
        help=f"A scope to grant (repeatable): {', '.join(sorted_scopes(ALL_SCOPES))}.",
    ),
    name: str = typer.Option("cli", "--name", "-n", help="A name to recognise the token by."),
    user: str | None = typer.Option(None, "--user", help="Owner (default: the first admin)."),
    expires_in_days: int | None = typer.Option(
        None, "--expires-in-days", min=1, help="Let the token expire after this many days."
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create an API token. It is printed once; only its hash is stored."""
    expires_at = utc_now() + dt.timedelta(days=expires_in_days) if expires_in_days else None

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[TokenRead, str]:
        owner = await _owner(session, user)
        token, plain = await identity_service.token.create(
            session,
            Actor.cli(owner.id, owner.username),
            owner,
            name=name,
            scopes=scope,
            expires_at=expires_at,
        )
        return TokenRead.model_validate(token), plain

    token, plain = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({**token.model_dump(mode="json"), "token": plain})
        return
    console.print(
        f"Token [bold]{token.name}[/bold] (id {token.id}), scopes: {' '.join(token.scopes)}"
    )
    console.print("Store it now; it will not be shown again:")
    out.print(plain, soft_wrap=True)


@token_app.command("list")
def token_list(
    user: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List API tokens (never their values)."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[TokenRead]:
        # One user's tokens are what that user would see as a customer: their own.
        principal = (
            Principal(user_id=(await _owner(session, user)).id, role=Role.CUSTOMER)
            if user
            else Principal.system()
        )
        tokens, _ = await identity_service.token.list(
            session, principal, params=PageParams(page=1, per_page=10_000)
        )
        return [TokenRead.model_validate(t) for t in tokens]

    tokens = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json([t.model_dump(mode="json") for t in tokens])
        return
    table = Table("id", "name", "prefix", "scopes", "user", "expires", "last used", "state")
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            " ".join(t.scopes),
            str(t.user_id),
            iso(t.expires_at) or "-",
            iso(t.last_used_at) or "-",
            state,
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The token's id (see `stellwerk token list`)."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke an API token; requests with it are refused from now on."""

    async def work(runtime: Runtime, session: AsyncSession) -> TokenRead:
        token = await identity_service.token.revoke(
            session, Actor.cli(), Principal.system(), token_id=token_id
        )
        return TokenRead.model_validate(token)

    token = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(token.model_dump(mode="json"))
    else:
        console.print(f"Revoked token {token.id} ({token.name}).")


@apikey_app.command("rotate")
def apikey_rotate(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Replace the system API key. The old key stops working at once; the new one prints once."""

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        _, plain = await identity_service.system_api_key.rotate(session, Actor.cli())
        return plain

    plain = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"api_key": plain})
    else:
        console.print("New system API key (the old one no longer works). Store it now:")
        out.print(plain)
