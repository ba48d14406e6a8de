"""`stellwerk redirect`: run the data plane alone, manage redirect domains, write Caddy config."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
    load_startable_settings,
    open_runtime,
    out,
    print_json,
    run_in_session,
)
from stellwerk.cli.identity import _owner
from stellwerk.kit.logs import configure_logging
from stellwerk.kit.time import epoch_ms
from stellwerk.models import RedirectDomain
from stellwerk.redirect import qr, service
from stellwerk.redirect.caddy import caddyfile
from stellwerk.redirect.checks import checks
from stellwerk.redirect.csvfiles import csv_files
from stellwerk.redirect.repository import DomainFilter, GroupRepository
from stellwerk.redirect.schemas import DomainOut, GroupOut, ImportReport
from stellwerk.runtime import Runtime

redirect_app = typer.Typer(
    help="Redirect domains and the data plane that answers them.", no_args_is_help=True
)
domains_app = typer.Typer(
    help="List, add, update, verify, check, import, export and delete redirect domains.",
    no_args_is_help=True,
)
groups_app = typer.Typer(help="Named, coloured groups of redirect domains.", no_args_is_help=True)
hits_app = typer.Typer(help="The hits the data plane recorded.", no_args_is_help=True)
redirect_app.add_typer(domains_app, name="domains")
redirect_app.add_typer(groups_app, name="groups")
redirect_app.add_typer(hits_app, name="hits")

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
    from stellwerk.redirect.workers import StartFailed, serve_workers, worker_count

    settings = load_startable_settings(**data_dir_override(data_dir))
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    workers = workers or max(1, worker_count(settings))
    bind_host = host or settings.host
    bind_port = settings.redirect_port if port is None else port
    console.print(f"Redirect data plane on http://{bind_host}:{bind_port} ({workers} workers)")
    try:
        serve_workers(settings, bind_host, bind_port, workers)
    except StartFailed as error:
        fail(error.message)


def _domain_row(record: RedirectDomain) -> dict[str, object]:
    return DomainOut.of(record).model_dump()


@domains_app.command("list")
def domains_list(
    user: str | None = UserOption,
    group: int | None = typer.Option(None, "--group", help="Only this group (id)."),
    failing: bool = typer.Option(False, "--failing", help="Only those whose target fails."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List redirect domains (all users' unless --user); hits are human hits."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, object]]:
        owner_id = (await _owner(session, user)).id if user else None
        where = DomainFilter(
            owner_id=owner_id, group_id=group, target_status="failing" if failing else None
        )
        rows, _ = await service.domain.page(session, where=where, limit=None)
        return [_domain_row(r) for r in rows]

    rows = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "id", "domain", "status", "target", "code", "path", "www", "group", "check", "hits", "bots"
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["domain"]),
            "sunset" if row["sunset_config"] else str(row["status"]),
            str(row["target_url"]),
            str(row["redirect_code"]),
            "yes" if row["preserve_path"] else "no",
            "yes" if row["include_www"] else "no",
            str(row["group_id"] or ""),
            str(row["target_status"] or ""),
            str(row["total_hits"]),
            str(row["bots"]),
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
    group: str | None = typer.Option(None, "--group", help="Put it into this group (id or name)."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a redirect domain (pending until verified) and print the DNS records to set."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        owner = await _owner(session, user)
        group_id = await _group_id(session, owner.id, group) if group else None
        record = await service.domain.create(
            session,
            Actor.cli(owner.id, owner.username),
            owner,
            domain=domain,
            target_url=target,
            redirect_code=code,
            preserve_path=preserve_path,
            include_www=include_www,
            group_id=group_id,
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


def _sunset_option(
    status: int | None,
    date: str | None,
    company: str | None,
    title: str | None,
    message: str | None,
) -> dict[str, object] | None:
    return {
        "status_code": status or 410,
        "sunset_date": date,
        "company_name": company,
        "title": title,
        "message": message,
    }


async def _group_id(session: AsyncSession, owner_id: int, value: str) -> int:
    """A group of `owner_id` by id or by name."""
    if value.isdecimal():
        group = await service.group_service.get(session, int(value), owner_id=owner_id)
        return group.id
    found = await GroupRepository(session).by_name(owner_id, value)
    if found is None:
        fail(f"The owner has no group named {value}")
    return found.id


@domains_app.command("update")
def domains_update(
    domain_id: int = typer.Argument(..., help="The domain's id."),
    target: str | None = typer.Option(None, "--target", "-t", help="Where to send visitors."),
    code: int | None = typer.Option(None, "--code", help="301, 302, 307 or 308."),
    preserve_path: bool | None = typer.Option(
        None, "--preserve-path/--no-preserve-path", help="Keep path and query."
    ),
    include_www: bool | None = typer.Option(None, "--www/--no-www", help="Also answer www."),
    group: str | None = typer.Option(None, "--group", help="Move into this group (id or name)."),
    no_group: bool = typer.Option(False, "--no-group", help="Take the domain out of its group."),
    sunset_status: int | None = typer.Option(
        None, "--sunset", help="Show a sunset page instead: 410 (closed) or 200 (moved)."
    ),
    sunset_date: str | None = typer.Option(None, "--sunset-date", help="YYYY-MM-DD."),
    sunset_company: str | None = typer.Option(None, "--sunset-company", help="Company name."),
    sunset_title: str | None = typer.Option(None, "--sunset-title", help="Page title."),
    sunset_message: str | None = typer.Option(None, "--sunset-message", help="Page text."),
    no_sunset: bool = typer.Option(False, "--no-sunset", help="Redirect again."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Change a redirect domain's settings (not its name); its hits stay. Only the options
    given change; the data plane follows within a second."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        record = await service.domain.get(session, domain_id, owner_id=None)
        changes: dict[str, object] = {}
        if target is not None:
            changes["target_url"] = target
        if code is not None:
            changes["redirect_code"] = code
        if preserve_path is not None:
            changes["preserve_path"] = preserve_path
        if include_www is not None:
            changes["include_www"] = include_www
        if no_group:
            changes["group_id"] = None
        elif group is not None:
            changes["group_id"] = await _group_id(session, record.owner_id, group)
        if no_sunset:
            changes["sunset_config"] = None
        elif sunset_status is not None or sunset_date is not None:
            changes["sunset_config"] = _sunset_option(
                sunset_status, sunset_date, sunset_company, sunset_title, sunset_message
            )
        if not changes:
            fail("Nothing to change: give at least one option (see --help)")
        diff = await service.domain.update(session, Actor.cli(), record, changes)
        return {"domain": _domain_row(record), "changed": sorted(diff)}

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(result)
    elif result["changed"]:
        console.print(f"Changed {', '.join(result['changed'])}.")  # type: ignore[arg-type]
    else:
        console.print("Nothing changed.")


@domains_app.command("check")
def domains_check(
    domain_id: int = typer.Argument(..., help="The domain's id."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Follow the domain's target now: redirect chain, loops, final status, certificate."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        record = await service.domain.get(session, domain_id, owner_id=None)
        return await checks.check(session, record, runtime.settings)

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(result)
        return
    for hop in result["hops"]:  # type: ignore[attr-defined]
        out.print(f"  {hop['status']}  {hop['url']}", markup=False, highlight=False)
    if result["ok"]:
        console.print(f"The target works ({result['chain_length']} redirects).")
    else:
        fail(f"The target is failing: {result['error'] or 'HTTP ' + str(result['final_status'])}")


@domains_app.command("qr")
def domains_qr(
    domain_id: int = typer.Argument(..., help="The domain's id."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write (.svg or .png)."),
    scale: int = typer.Option(8, "--scale", min=1, max=40, help="Pixels per module."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write a QR code opening https://<domain>/ (the format follows the file's suffix)."""
    kind = output.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        fail("The output file must end in .svg or .png")

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        return (await service.domain.get(session, domain_id, owner_id=None)).domain

    name = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    output.write_bytes(qr.render(name, kind, scale=scale))  # type: ignore[arg-type]
    console.print(f"Wrote {output}.")


@domains_app.command("import")
def domains_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The CSV file."),
    apply: bool = typer.Option(False, "--apply", help="Apply; without it, a dry run."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create or update domains from a CSV (the export's columns). A dry run unless --apply;
    rows with errors are reported and skipped. Exits 1 when a row has an error."""
    text = file.read_bytes().decode("utf-8-sig", errors="replace")

    async def work(runtime: Runtime, session: AsyncSession) -> ImportReport:
        owner = await _owner(session, user)
        report = await csv_files.import_domains(
            session, Actor.cli(owner.id, owner.username), owner, text, dry_run=not apply
        )
        return ImportReport.of(report)

    report = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(report.model_dump())
    else:
        table = Table("row", "domain", "result", "details")
        for row in report.rows:
            if row.action != "unchanged":
                table.add_row(
                    str(row.row), row.domain, row.action, row.error or ", ".join(row.changes)
                )
        out.print(table)
        verb = "Would create" if report.dry_run else "Created"
        console.print(
            f"{verb} {report.created}, updated {report.updated}, unchanged {report.unchanged},"
            f" errors {report.errors}." + ("" if apply else " Run again with --apply to apply.")
        )
    if report.errors:
        raise typer.Exit(1)


async def _write_stream(chunks: AsyncIterator[str], output: Path | None) -> None:
    if output is None:
        async for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        async for chunk in chunks:
            handle.write(chunk)


@domains_app.command("export")
def domains_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
    user: str | None = typer.Option(None, "--user", help="Only this user's domains."),
    group: int | None = typer.Option(None, "--group", help="Only this group (id)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write domains as CSV; `domains import` takes the file back unchanged."""
    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            owner_id = None
            if user:
                async with runtime.database.session() as session:
                    owner_id = (await _owner(session, user)).id
            where = DomainFilter(owner_id=owner_id, group_id=group)
            await _write_stream(csv_files.export_domains(runtime.database, where), output)

    asyncio.run(main())


@hits_app.command("export")
def hits_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
    domain_id: int | None = typer.Option(None, "--domain", help="Only this domain (id)."),
    since: datetime | None = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="First UTC day."
    ),
    until: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last UTC day."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write hits as CSV, newest first: the daily visitor hash, never an address."""
    settings = load_settings(**data_dir_override(data_dir))
    since_ms = epoch_ms(since.replace(tzinfo=UTC)) if since else None
    until_ms = epoch_ms((until + timedelta(days=1)).replace(tzinfo=UTC)) if until else None

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            chunks = csv_files.export_hits(
                runtime.database,
                domain_ids=[domain_id] if domain_id else None,
                include_orphans=domain_id is None,
                since_ms=since_ms,
                until_ms=until_ms,
            )
            await _write_stream(chunks, output)

    asyncio.run(main())


@groups_app.command("list")
def groups_list(
    user: str | None = typer.Option(None, "--user", help="Only this user's groups."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List redirect groups with their colour, target and number of domains."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, object]]:
        owner_id = (await _owner(session, user)).id if user else None
        rows = await service.group_service.list(session, owner_id=owner_id)
        return [GroupOut.of(g, n).model_dump() for g, n in rows]

    rows = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "colour", "domains", "target", "owner")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["name"]),
            str(row["color"]),
            str(row["domain_count"]),
            str(row["target_url"] or ""),
            str(row["owner_id"]),
        )
    out.print(table)


@groups_app.command("add")
def groups_add(
    name: str = typer.Argument(..., help="The group's name."),
    color: str = typer.Option("#4f6d7a", "--color", help="#rrggbb."),
    target: str | None = typer.Option(None, "--target", help="The group's target."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a group (for the user, or the first admin)."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, object]:
        owner = await _owner(session, user)
        group = await service.group_service.create(
            session,
            Actor.cli(owner.id, owner.username),
            owner,
            name=name,
            color=color,
            target_url=target,
        )
        return GroupOut.of(group, 0).model_dump()

    result = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json(result)
    else:
        console.print(f"Created the group {result['name']} (id {result['id']}).")


@groups_app.command("delete")
def groups_delete(
    group_id: int = typer.Argument(..., help="The group's id."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a group; its domains stay, without a group."""

    async def work(runtime: Runtime, session: AsyncSession) -> int:
        group = await service.group_service.get(session, group_id, owner_id=None)
        return await service.group_service.delete(session, Actor.cli(), group)

    held = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json({"ok": True, "id": group_id, "domains_ungrouped": held})
    else:
        console.print(f"Deleted the group; {held} domain(s) kept without a group.")
