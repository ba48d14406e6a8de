"""`stellwerk redirect`: run the data plane alone, manage redirect domains, write Caddy config."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk import migrate
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
from stellwerk.cli.identity import _owner
from stellwerk.kit.logs import configure_logging
from stellwerk.models import RedirectDomain
from stellwerk.redirect import service
from stellwerk.redirect.caddy import caddyfile
from stellwerk.redirect.schemas import DomainOut
from stellwerk.runtime import Runtime

redirect_app = typer.Typer(
    help="Redirect domains and the data plane that answers them.", no_args_is_help=True
)
domains_app = typer.Typer(
    help="List, add, verify and delete redirect domains.", no_args_is_help=True
)
redirect_app.add_typer(domains_app, name="domains")

UserOption = typer.Option(None, "--user", help="Owner (default: the first admin).")


@redirect_app.command("serve")
def serve(
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        min=1,
        max=64,
        help="Worker processes (default: STELLWERK_REDIRECT_WORKERS, or one per CPU).",
    ),
    host: str | None = typer.Option(None, "--host", help="Address to listen on."),
    port: int | None = typer.Option(
        None, "--port", help="Port (default STELLWERK_REDIRECT_PORT, 8080)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Run only the redirect data plane with N worker processes (stop with Ctrl+C)."""
    from stellwerk.redirect.workers import serve_workers, worker_count

    settings = load_settings(**data_dir_override(data_dir))
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    workers = workers or max(1, worker_count(settings))
    bind_host = host or settings.host
    bind_port = settings.redirect_port if port is None else port
    console.print(f"Redirect data plane on http://{bind_host}:{bind_port} ({workers} workers)")
    serve_workers(settings, bind_host, bind_port, workers)


def _domain_row(record: RedirectDomain) -> dict[str, object]:
    return DomainOut.of(record).model_dump()


@domains_app.command("list")
def domains_list(
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List redirect domains (all users' unless --user)."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, object]]:
        owner_id = (await _owner(session, user)).id if user else None
        rows, _ = await service.domain.page(session, owner_id=owner_id, limit=None)
        return [_domain_row(r) for r in rows]

    rows = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "domain", "status", "target", "code", "path", "www", "hits")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["domain"]),
            str(row["status"]),
            str(row["target_url"]),
            str(row["redirect_code"]),
            "yes" if row["preserve_path"] else "no",
            "yes" if row["include_www"] else "no",
            str(row["total_hits"]),
        )
    out.print(table)


@domains_app.command("add")
def domains_add(
    domain: str = typer.Argument(..., help="The domain to redirect, like alt-firma.de."),
    target: str = typer.Option(..., "--target", "-t", help="Where to send visitors."),
    code: int = typer.Option(301, "--code", help="301, 302, 307 or 308."),
    preserve_path: bool = typer.Option(
        True, "--preserve-path/--no-preserve-path", help="Keep path and query."
    ),
    include_www: bool = typer.Option(True, "--www/--no-www", help="Also answer www.<domain>."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a redirect domain (pending until verified) and print the DNS records to set."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        owner = await _owner(session, user)
        record = await service.domain.create(
            session,
            Actor.cli(owner.id, owner.username),
            owner,
            domain=domain,
            target_url=target,
            redirect_code=code,
            preserve_path=preserve_path,
            include_www=include_www,
        )
        records = service.domain.dns_records(runtime.settings, record)
        return {
            "domain": _domain_row(record),
            "dns_records": [{"type": r.type, "name": r.name, "value": r.value} for r in records],
        }

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(result)
        return
    console.print(f"Added {result['domain']['domain']} (id {result['domain']['id']}), pending.")  # type: ignore[index]
    records = result["dns_records"]
    if records:
        console.print("Set these DNS records, then run `stellwerk redirect domains verify`:")
        for record in records:  # type: ignore[attr-defined]
            out.print(f"  {record['name']:<40} {record['type']:<5} {record['value']}")
    else:
        console.print("Set STELLWERK_PUBLIC_IPV4/IPV6 to get the DNS records to set.")


@domains_app.command("verify")
def domains_verify(
    domain_id: int = typer.Argument(..., help="The domain's id."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Check the domain's DNS now; it becomes active when every record points here."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        record = await service.domain.get(session, domain_id, owner_id=None)
        result = await service.domain.verify(
            session, Actor.cli(), record, settings=runtime.settings
        )
        return {
            "verified": result.verified,
            "domain": _domain_row(result.domain),
            "checks": [
                {
                    "type": c.type,
                    "name": c.name,
                    "expected": c.expected,
                    "found": c.found,
                    "ok": c.ok,
                }
                for c in result.checks
            ],
            "message": result.message,
        }

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(result)
    elif result["verified"]:
        console.print("Verified: the domain is active.")
    else:
        fail(f"Not verified: {result['message']}")


@domains_app.command("delete")
def domains_delete(
    domain_id: int = typer.Argument(..., help="The domain's id."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a redirect domain and its hits."""

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        record = await service.domain.get(session, domain_id, owner_id=None)
        await service.domain.delete(session, Actor.cli(), record)
        return record.domain

    name = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"ok": True, "id": domain_id, "domain": name})
    else:
        console.print(f"Deleted {name}.")


@redirect_app.command("caddy-config")
def caddy_config(
    email: str | None = typer.Option(None, "--email", help="ACME account e-mail."),
    ask_url: str | None = typer.Option(
        None, "--ask-url", help="The TLS ask endpoint (default: this API's /api/redirect/tls-ask)."
    ),
    upstream: str | None = typer.Option(
        None, "--upstream", help="The data plane address (default 127.0.0.1:REDIRECT_PORT)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Print a Caddyfile: on-demand TLS for active redirect domains, in front of the data plane."""
    settings = load_settings(**data_dir_override(data_dir))
    out.print(
        caddyfile(
            ask_url=ask_url or f"http://127.0.0.1:{settings.port}/api/redirect/tls-ask",
            upstream=upstream or f"127.0.0.1:{settings.redirect_port}",
            email=email,
        ),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
