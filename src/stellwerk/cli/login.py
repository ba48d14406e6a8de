"""`stellwerk login` and `stellwerk logout`: the server the command line talks to."""

from __future__ import annotations

import os
import socket
import sys

import typer

from stellwerk.cli.client import (
    DEFAULT_URL,
    Api,
    CliError,
    Credentials,
    config_path,
    credentials,
    read_config,
    report,
    write_config,
)
from stellwerk.cli.common import JsonOption, console, print_json


def login_command(
    url: str | None = typer.Option(
        None,
        "--url",
        metavar="URL",
        help=f"The server's base URL (default: STELLWERK_URL, the last login's, {DEFAULT_URL}).",
    ),
    username: str | None = typer.Option(
        None, "--username", "-u", metavar="NAME", help="Your username (asked if left out)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Log in to a running Stellwerk: creates an API token for this computer and stores it with
    the server's URL in your config directory (readable by you alone)."""
    try:
        base = (url or credentials().url).rstrip("/")
    except CliError as error:
        report(error, as_json=as_json)
    if not base.startswith(("http://", "https://")):
        report(CliError(f"{base} is not an http:// or https:// URL"), as_json=as_json)
    name = username or typer.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    with Api(Credentials(url=base, token=None), as_json=as_json) as anonymous:
        try:
            issued = anonymous.call(
                "POST", "/api/auth/login", json={"username": name, "password": password}
            )
        except CliError as error:
            if error.code == "unauthorized":
                error = CliError("The username or password is wrong", code="invalid_credentials")
            report(error, as_json=as_json)
    with Api(Credentials(url=base, token=issued["access_token"]), as_json=as_json) as api:
        me = api.get("/api/auth/me")
        token = api.post(
            "/api/tokens",
            json={"name": f"cli on {socket.gethostname()}"[:100], "scopes": me["scopes"]},
        )
    path = write_config(base, token["token"], token["id"])
    if as_json:
        print_json({"url": base, "username": me["username"], "token_id": token["id"]})
        return
    console.print(f"Logged in to {base} as [bold]{me['username']}[/bold] ({me['role']}).")
    console.print(f"The token (id {token['id']}) is stored in {path}.")
    if os.environ.get("STELLWERK_URL") or os.environ.get("STELLWERK_TOKEN"):
        console.print("STELLWERK_URL / STELLWERK_TOKEN are set and take precedence over it.")


def logout_command(as_json: bool = JsonOption) -> None:
    """Revoke the stored token at the server and forget it (works with the server stopped too;
    then the token stays valid until revoked in the web UI)."""
    path = config_path()
    if not path.exists():
        report(CliError("You are not logged in", code="not_logged_in"), as_json=as_json)
    try:
        config = read_config()
    except CliError:
        path.unlink()  # unreadable: nothing to revoke with
        report(CliError(f"Removed the unreadable {path}", code="removed"), as_json=as_json)
    token_id = config.get("token_id")
    stored = Credentials(
        url=str(config.get("url") or DEFAULT_URL),
        token=str(config.get("token") or "") or None,
        token_id=token_id if isinstance(token_id, int) else None,
    )
    revoked = False
    if stored.token_id is not None and stored.token:
        with Api(stored, as_json=as_json) as api:
            try:
                api.call("DELETE", f"/api/tokens/{stored.token_id}")
                revoked = True
            except CliError as error:
                console.print(f"[yellow]warning:[/yellow] the token was not revoked: {error}")
    path.unlink()
    if as_json:
        print_json({"logged_out": True, "token_revoked": revoked})
    else:
        console.print(f"Logged out of {stored.url}" + (" (token revoked)." if revoked else "."))
