"""`stellwerk license`: customers, licenses, keys and the license signing key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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
from stellwerk.customer.service import customer as customer_service
from stellwerk.kit.pagination import PageParams
from stellwerk.license import service as license_service
from stellwerk.license.schemas import normalize_key
from stellwerk.license.signing import SigningKey
from stellwerk.models import Customer, License
from stellwerk.runtime import Runtime

license_app = typer.Typer(
    help="Customers, licenses and keys of the license server.", no_args_is_help=True
)
LICENSE_TYPES = ("perpetual", "subscription", "trial")


def _license_json(found: License) -> dict[str, Any]:
    return {
        "id": found.id,
        "license_key": found.license_key,
        "customer_id": found.customer_id,
        "customer_name": found.customer.name,
        "license_type": found.license_type,
        "valid_from": found.valid_from.isoformat(),
        "valid_until": found.valid_until.isoformat() if found.valid_until else None,
        "max_activations": found.max_activations,
        "max_users": found.max_users,
        "is_active": found.is_active,
    }


@license_app.command("customer-create")
def customer_create(
    name: str = typer.Option(..., "--name", help="The customer's name."),
    email: str | None = typer.Option(None, "--email", help="Contact email."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a customer."""

    async def work(runtime: Runtime, session: AsyncSession) -> Customer:
        return await customer_service.create(session, Actor.cli(), name=name, email=email)

    created = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"id": created.id, "name": created.name, "email": created.email})
    else:
        console.print(f"Created customer [bold]{created.name}[/bold] (id {created.id}).")


@license_app.command("customers")
def customers(
    search: str | None = typer.Option(None, "--search", "-s", help="Name or email contains."),
    page: int = typer.Option(1, "--page", min=1),
    per_page: int = typer.Option(50, "--per-page", min=1, max=200),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List customers."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[list[Customer], int]:
        rows, total = await customer_service.search(
            session, query=search, params=PageParams(page=page, per_page=per_page)
        )
        return list(rows), total

    rows, total = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(
            {
                "items": [{"id": c.id, "name": c.name, "email": c.email} for c in rows],
                "total": total,
                "page": page,
                "per_page": per_page,
            }
        )
        return
    table = Table("ID", "Name", "Email", title=f"Customers ({total})")
    for c in rows:
        table.add_row(str(c.id), c.name, c.email or "")
    out.print(table)


@license_app.command("create")
def create(
    customer_id: int = typer.Option(..., "--customer-id", help="Who holds the license."),
    license_type: str = typer.Option(
        "perpetual", "--type", help="perpetual, subscription or trial."
    ),
    valid_until: str | None = typer.Option(
        None, "--valid-until", help="Last valid day, YYYY-MM-DD."
    ),
    max_activations: int = typer.Option(1, "--max-activations", min=1),
    max_users: int = typer.Option(1, "--max-users", min=1),
    key: str | None = typer.Option(
        None, "--key", help="XXXX-XXXX-XXXX-XXXX; generated if left out."
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a license."""
    if license_type not in LICENSE_TYPES:
        fail(f"--type is one of {', '.join(LICENSE_TYPES)}")
    try:
        until = dt.date.fromisoformat(valid_until) if valid_until else None
        license_key = normalize_key(key) if key else None
    except ValueError as error:
        fail(str(error))

    async def work(runtime: Runtime, session: AsyncSession) -> License:
        return await license_service.license.create(
            session,
            Actor.cli(),
            customer_id=customer_id,
            license_key=license_key,
            license_type=license_type,
            valid_until=until,
            max_activations=max_activations,
            max_users=max_users,
        )

    created = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(_license_json(created))
    else:
        console.print(f"Created license [bold]{created.license_key}[/bold] (id {created.id}).")


@license_app.command("list")
def list_licenses(
    search: str | None = typer.Option(None, "--search", "-s", help="Key or customer contains."),
    page: int = typer.Option(1, "--page", min=1),
    per_page: int = typer.Option(50, "--per-page", min=1, max=200),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List licenses, newest first."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[list[License], int]:
        rows, total = await license_service.license.list(
            session, params=PageParams(page=page, per_page=per_page), query=search
        )
        return list(rows), total

    rows, total = run_in_session(load_settings(**data_dir_override(data_dir)), work)
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
            str(lic.id),
            lic.license_key,
            lic.customer.name,
            lic.license_type,
            lic.valid_until.isoformat() if lic.valid_until else "never ends",
            str(lic.max_activations),
            "yes" if lic.is_active else "no",
        )
    out.print(table)


@license_app.command("keygen")
def keygen(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Print a new, unused license key."""

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        return await license_service.license.generate_key(session)

    key = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"license_key": key})
    else:
        out.print(key)


@license_app.command("public-key")
def public_key(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Print the Ed25519 public key that offline license files are signed with (PEM)."""

    async def work(runtime: Runtime, _session: AsyncSession) -> SigningKey:
        return await license_service.license_file.signing_key(runtime)

    key = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"algorithm": "Ed25519", "key_id": key.key_id, "public_key": key.public_pem})
    else:
        out.print(key.public_pem, end="")
