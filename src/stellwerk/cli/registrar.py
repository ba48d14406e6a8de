"""`stellwerk domains`: check, register, transfer and list registrar domains."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, check_choice, console, out, print_json

domains_app = typer.Typer(
    help="Registrar domains: check, register, transfer, list.", no_args_is_help=True
)
STATUSES = ("active", "pending", "failed")


def _show(domain: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(domain)
        return
    price = f", {domain['price']} {domain['currency']}" if domain["price"] is not None else ""
    console.print(f"[bold]{domain['name']}[/bold]: {domain['status']} ({domain['origin']}{price})")


@domains_app.command("check")
def domains_check(
    domains: list[str] = typer.Argument(..., metavar="DOMAIN...", help="One or more domains."),
    as_json: bool = JsonOption,
) -> None:
    """Availability, price, currency and premium flag."""
    with Api(as_json=as_json) as api:
        results = api.post("/api/registrar/domains/check", json={"domains": domains})["domains"]
    if as_json:
        print_json(results)
        return
    table = Table("domain", "available", "price", "premium")
    for r in results:
        price = f"{float(r['price']):.2f} {r['currency']}" if r["price"] is not None else "-"
        table.add_row(
            r["domain"], "yes" if r["available"] else "no", price, "yes" if r["premium"] else ""
        )
    out.print(table)


@domains_app.command("register")
def domains_register(
    domain: str = typer.Argument(..., metavar="DOMAIN", help="The domain to buy."),
    contact_id: int | None = typer.Option(
        None, "--contact-id", metavar="CONTACT", help="A contact of ours (default: the default)."
    ),
    nameserver: list[str] = typer.Option(
        [], "--ns", metavar="HOST", help="A nameserver (repeatable)."
    ),
    years: int = typer.Option(1, "--years", metavar="YEARS", min=1, max=10),
    as_json: bool = JsonOption,
) -> None:
    """Buy a domain with the default contact in every role."""
    body = {
        "domain": domain,
        "contact_id": contact_id,
        "nameservers": nameserver,
        "period_years": years,
    }
    with Api(as_json=as_json) as api:
        _show(api.post("/api/registrar/domains", json=body), as_json)


@domains_app.command("transfer")
def domains_transfer(
    domain: str = typer.Argument(..., metavar="DOMAIN", help="The domain to transfer in."),
    auth_code: str = typer.Option(
        ...,
        "--auth-code",
        metavar="CODE",
        prompt=True,
        hide_input=True,
        help="The auth code from the old registrar.",
    ),
    contact_id: int | None = typer.Option(None, "--contact-id", metavar="CONTACT"),
    as_json: bool = JsonOption,
) -> None:
    """Start a transfer; the domain stays `pending` until the registrar completes it."""
    body = {"domain": domain, "auth_code": auth_code, "contact_id": contact_id}
    with Api(as_json=as_json) as api:
        _show(api.post("/api/registrar/domains/transfer", json=body), as_json)


@domains_app.command("list")
def domains_list(
    status: str | None = typer.Option(
        None, "--status", metavar="STATUS", help=f"Only this status: {', '.join(STATUSES)}."
    ),
    limit: int = typer.Option(100, "--limit", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """Domains in this account (`domains show` looks a pending transfer up at the registrar)."""
    if status is not None:
        check_choice("--status", status, STATUSES, as_json=as_json)
    with Api(as_json=as_json) as api:
        rows = api.get("/api/registrar/domains", params={"status": status, "per_page": limit})[
            "items"
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("domain", "status", "origin", "price", "since")
    for r in rows:
        price = f"{r['price']} {r['currency']}" if r["price"] is not None else "-"
        table.add_row(r["name"], r["status"], r["origin"], price, str(r["created_at"])[:10])
    out.print(table)


@domains_app.command("show")
def domains_show(
    domain: str = typer.Argument(..., metavar="DOMAIN", help="The domain."),
    as_json: bool = JsonOption,
) -> None:
    """One domain; a pending transfer is looked up at the registrar first."""
    with Api(as_json=as_json) as api:
        _show(api.get(f"/api/registrar/domains/{domain}"), as_json)
