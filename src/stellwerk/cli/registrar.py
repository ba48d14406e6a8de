"""`stellwerk domains`: check, register, transfer and list registrar domains."""

from __future__ import annotations

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
    load_settings,
    out,
    print_json,
    run_in_session,
)
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.registrar.schemas import DomainCheckRead, DomainRead
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime

domains_app = typer.Typer(
    help="Registrar domains: check, register, transfer, list.", no_args_is_help=True
)


def _show(domain: DomainRead, as_json: bool) -> None:
    if as_json:
        print_json(domain.model_dump(mode="json"))
        return
    price = f", {domain.price} {domain.currency}" if domain.price is not None else ""
    console.print(f"[bold]{domain.name}[/bold]: {domain.status} ({domain.origin}{price})")


@domains_app.command("check")
def domains_check(
    domains: list[str] = typer.Argument(..., help="One or more domain names."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Availability, price, currency and premium flag."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[DomainCheckRead]:
        results = await registrar_service.check(runtime.settings, domains=domains)
        return [
            DomainCheckRead(
                domain=r.domain,
                available=r.available,
                price=r.price,
                currency=r.currency,
                premium=r.premium,
                status=r.status,
            )
            for r in results
        ]

    results = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json([r.model_dump(mode="json") for r in results])
        return
    table = Table("domain", "available", "price", "premium")
    for r in results:
        price = f"{r.price:.2f} {r.currency}" if r.price is not None else "-"
        table.add_row(r.domain, "yes" if r.available else "no", price, "yes" if r.premium else "")
    out.print(table)


@domains_app.command("register")
def domains_register(
    domain: str = typer.Argument(..., help="The domain to buy."),
    contact_id: int | None = typer.Option(
        None, "--contact-id", help="A contact of ours (default: the default contact)."
    ),
    nameserver: list[str] = typer.Option([], "--ns", help="Nameservers (repeat)."),
    years: int = typer.Option(1, "--years", min=1, max=10),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Buy a domain with the default contact in every role."""

    async def work(runtime: Runtime, session: AsyncSession) -> DomainRead:
        row = await registrar_service.register(
            session,
            runtime.settings,
            Actor.cli(),
            domain=domain,
            contact_id=contact_id,
            nameservers=nameserver,
            period_years=years,
        )
        return DomainRead.model_validate(row)

    _show(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


@domains_app.command("transfer")
def domains_transfer(
    domain: str = typer.Argument(..., help="The domain to transfer in."),
    auth_code: str = typer.Option(
        ...,
        "--auth-code",
        prompt=True,
        hide_input=True,
        help="The auth code from the old registrar.",
    ),
    contact_id: int | None = typer.Option(None, "--contact-id"),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Start a transfer; the domain stays `pending` until the registrar completes it."""

    async def work(runtime: Runtime, session: AsyncSession) -> DomainRead:
        row = await registrar_service.transfer(
            session,
            runtime.settings,
            Actor.cli(),
            domain=domain,
            auth_code=auth_code,
            contact_id=contact_id,
        )
        return DomainRead.model_validate(row)

    _show(run_in_session(load_settings(**data_dir_override(data_dir)), work), as_json)


@domains_app.command("list")
def domains_list(
    status: str | None = typer.Option(None, "--status", help="active, pending or failed."),
    limit: int = typer.Option(100, "--limit", min=1, max=200),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Domains in this account (pending transfers are looked up at the registrar)."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[DomainRead]:
        await registrar_service.refresh_pending(session, runtime.settings)
        rows, _ = await registrar_service.list(
            session, Principal.system(), params=PageParams(page=1, per_page=limit), status=status
        )
        return [DomainRead.model_validate(r) for r in rows]

    rows = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("domain", "status", "origin", "price", "since")
    for r in rows:
        price = f"{r.price} {r.currency}" if r.price is not None else "-"
        table.add_row(r.name, r.status, r.origin, price, r.created_at.date().isoformat())
    out.print(table)
