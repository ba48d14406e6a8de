"""`stellwerk license`: customers, licenses, keys and the license signing key, through the
server's API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, check_choice, console, fail, out, print_json

license_app = typer.Typer(
    help="Customers, licenses and keys of the license server.", no_args_is_help=True
)
LICENSE_TYPES = ("perpetual", "subscription", "trial")
LICENSE_KEYS = (
    *("id", "license_key", "customer_id", "customer_name", "license_type", "valid_from"),
    *("valid_until", "max_activations", "max_users", "is_active"),
)


def _license_json(found: dict[str, Any]) -> dict[str, Any]:
    return {key: found[key] for key in LICENSE_KEYS}


@license_app.command("customer-create")
def customer_create(
    name: str = typer.Option(..., "--name", metavar="NAME", help="The customer's name."),
    email: str | None = typer.Option(None, "--email", metavar="EMAIL", help="Contact email."),
    as_json: bool = JsonOption,
) -> None:
    """Create a customer."""
    with Api(as_json=as_json) as api:
        created = api.post("/api/customers", json={"name": name, "email": email})
    if as_json:
        print_json({"id": created["id"], "name": created["name"], "email": created["email"]})
    else:
        console.print(f"Created customer [bold]{created['name']}[/bold] (id {created['id']}).")


@license_app.command("customers")
def customers(
    search: str | None = typer.Option(
        None, "--search", "-s", metavar="WORDS", help="Name or email contains."
    ),
    page: int = typer.Option(1, "--page", metavar="N", min=1),
    per_page: int = typer.Option(50, "--per-page", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """List customers."""
    params = {"q": search, "page": page, "per_page": per_page}
    with Api(as_json=as_json) as api:
        found = api.get("/api/customers", params=params)
    rows, total = found["items"], found["total"]
    if as_json:
        print_json(
            {
                "items": [{"id": c["id"], "name": c["name"], "email": c["email"]} for c in rows],
                "total": total,
                "page": page,
                "per_page": per_page,
            }
        )
        return
    table = Table("ID", "Name", "Email", title=f"Customers ({total})")
    for c in rows:
        table.add_row(str(c["id"]), c["name"], c["email"] or "")
    out.print(table)


@license_app.command("create")
def create(
    customer_id: int = typer.Option(
        ..., "--customer-id", metavar="CUSTOMER", help="Who holds the license."
    ),
    license_type: str = typer.Option(
        "perpetual", "--type", metavar="TYPE", help="perpetual, subscription or trial."
    ),
    valid_until: str | None = typer.Option(
        None, "--valid-until", metavar="YYYY-MM-DD", help="Last valid day."
    ),
    max_activations: int = typer.Option(1, "--max-activations", metavar="N", min=1),
    max_users: int = typer.Option(1, "--max-users", metavar="N", min=1),
    key: str | None = typer.Option(
        None, "--key", metavar="KEY", help="XXXX-XXXX-XXXX-XXXX; generated if left out."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a license."""
    check_choice("--type", license_type, LICENSE_TYPES, as_json=as_json)
    try:
        until = dt.date.fromisoformat(valid_until).isoformat() if valid_until else None
    except ValueError as error:
        fail(f"--valid-until: {error}", as_json=as_json)
    body = {
        "customer_id": customer_id,
        "license_key": key,
        "license_type": license_type,
        "valid_until": until,
        "max_activations": max_activations,
        "max_users": max_users,
    }
    with Api(as_json=as_json) as api:
        created = api.post("/api/licenses", json=body)
    if as_json:
        print_json(_license_json(created))
    else:
        console.print(
            f"Created license [bold]{created['license_key']}[/bold] (id {created['id']})."
        )


@license_app.command("list")
def list_licenses(
    search: str | None = typer.Option(
        None, "--search", "-s", metavar="WORDS", help="Key or customer contains."
    ),
    page: int = typer.Option(1, "--page", metavar="N", min=1),
    per_page: int = typer.Option(50, "--per-page", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """List licenses, newest first."""
    params = {"search": search, "page": page, "per_page": per_page}
    with Api(as_json=as_json) as api:
        found = api.get("/api/licenses", params=params)
    rows, total = found["items"], found["total"]
    if as_json:
        print_json(
            {
                "items": [_license_json(lic) for lic in rows],
                "total": total,
                "page": page,
                "per_page": per_page,
            }
        )
        return
    table = Table(
        "ID",
        "Key",
        "Customer",
        "Type",
        "Valid until",
        "Seats",
        "Active",
        title=f"Licenses ({total})",
    )
    for lic in rows:
        table.add_row(
            str(lic["id"]),
            lic["license_key"],
            lic["customer_name"],
            lic["license_type"],
            lic["valid_until"] or "never ends",
            str(lic["max_activations"]),
            "yes" if lic["is_active"] else "no",
        )
    out.print(table)


@license_app.command("keygen")
def keygen(as_json: bool = JsonOption) -> None:
    """Print a new, unused license key."""
    with Api(as_json=as_json) as api:
        key = api.post("/api/generate-license-key")["license_key"]
    if as_json:
        print_json({"license_key": key})
    else:
        out.print(key)


@license_app.command("public-key")
def public_key(as_json: bool = JsonOption) -> None:
    """Print the Ed25519 public key that offline license files are signed with (PEM)."""
    with Api(as_json=as_json) as api:
        key = api.get("/api/licenses/public-key")
    if as_json:
        print_json(
            {"algorithm": "Ed25519", "key_id": key["key_id"], "public_key": key["public_key"]}
        )
    else:
        out.print(key["public_key"], end="")
