"""`stellwerk redirect`: run the data plane alone, write Caddy config (both without the
server), and manage redirect domains, groups and hits through the server's API."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    console,
    data_dir_override,
    fail,
    load_settings,
    load_startable_settings,
    out,
    print_json,
)

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

V1 = "/api/v1"
DomainArgument = typer.Argument(..., metavar="DOMAIN_ID", help="The domain's id.")
CODES = (301, 302, 307, 308)
MAX_PAGES = 1000


@redirect_app.command("serve")
def serve(
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        metavar="N",
        min=1,
        max=64,
        help="Worker processes (default: STELLWERK_REDIRECT_WORKERS, or one per CPU).",
    ),
    host: str | None = typer.Option(
        None, "--host", metavar="ADDRESS", help="Address to listen on."
    ),
    port: int | None = typer.Option(
        None, "--port", metavar="PORT", help="Port (default STELLWERK_REDIRECT_PORT, 8080)."
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        metavar="PORT",
        help="Port where the data plane serves /metrics (0: any free port).",
        envvar="STELLWERK_METRICS_PORT",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Run only the redirect data plane with N worker processes (stop with Ctrl+C). Works on
    the database directly; needs no running server."""
    from stellwerk import migrate
    from stellwerk.kit.logs import configure_logging
    from stellwerk.kit.ports import PortInUse
    from stellwerk.redirect.workers import (
        DataPlaneWorkers,
        StartFailed,
        serve_workers,
        worker_count,
    )

    settings = load_startable_settings(metrics_port=metrics_port, **data_dir_override(data_dir))
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    workers = workers or max(1, worker_count(settings))
    bind_host = host or settings.host
    bind_port = settings.redirect_port if port is None else port
    console.print(f"Redirect data plane on http://{bind_host}:{bind_port} ({workers} workers)")

    def ready(plane: DataPlaneWorkers) -> None:
        if plane.metrics_url:
            console.print(f"Metrics on {plane.metrics_url}")

    try:
        serve_workers(settings, bind_host, bind_port, workers, on_ready=ready)
    except (StartFailed, PortInUse) as error:
        fail(error.message)


def _all_domains(api: Api, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        listed = api.get(f"{V1}/domains", params={**params, "page": page, "per_page": 1000})
        rows.extend(listed["domains"])
        if len(rows) >= listed["total"] or not listed["domains"]:
            break
    return rows


def _group_id(api: Api, value: str) -> int:
    """A group by id or by name."""
    if value.isdecimal():
        return int(value)
    for group in api.get(f"{V1}/groups")["groups"]:
        if group["name"] == value:
            return int(group["id"])
    raise api.failure(f"There is no group named {value}", code="not_found")


@domains_app.command("list")
def domains_list(
    group: int | None = typer.Option(None, "--group", metavar="GROUP_ID", help="Only this group."),
    failing: bool = typer.Option(False, "--failing", help="Only those whose target fails."),
    as_json: bool = JsonOption,
) -> None:
    """List your redirect domains (every user's for admins); hits are human hits."""
    with Api(as_json=as_json) as api:
        rows = _all_domains(api, group_id=group, target="failing" if failing else None)
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
    domain: str = typer.Argument(
        ..., metavar="DOMAIN", help="The domain to redirect, like alt-firma.de."
    ),
    target: str = typer.Option(
        ..., "--target", "-t", metavar="URL", help="Where to send visitors."
    ),
    code: int = typer.Option(301, "--code", metavar="CODE", help="301, 302, 307 or 308."),
    preserve_path: bool = typer.Option(
        True, "--preserve-path/--no-preserve-path", help="Keep path and query."
    ),
    include_www: bool = typer.Option(True, "--www/--no-www", help="Also answer www.<domain>."),
    group: str | None = typer.Option(
        None, "--group", metavar="GROUP", help="Put it into this group (id or name)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Add a redirect domain (pending until verified) and print the DNS records to set."""
    with Api(as_json=as_json) as api:
        body = {
            "domain": domain,
            "target_url": target,
            "redirect_code": code,
            "preserve_path": preserve_path,
            "include_www": include_www,
            "group_id": _group_id(api, group) if group else None,
        }
        result = api.post(f"{V1}/domains", json=body)
    if as_json:
        print_json(result)
        return
    console.print(f"Added {result['domain']['domain']} (id {result['domain']['id']}), pending.")
    records = result["dns_records"]
    if records:
        console.print("Set these DNS records, then run `stellwerk redirect domains verify`:")
        for record in records:
            out.print(f"  {record['name']:<40} {record['type']:<5} {record['value']}")
    else:
        console.print(
            "The server knows no public address: set STELLWERK_PUBLIC_IPV4/IPV6 where "
            "`stellwerk serve` runs to get the DNS records to set."
        )


@domains_app.command("verify")
def domains_verify(domain_id: int = DomainArgument, as_json: bool = JsonOption) -> None:
    """Check the domain's DNS records; when they point here, the domain becomes active."""
    with Api(as_json=as_json) as api:
        result = api.post(f"/api/domains/{domain_id}/verify")
        if as_json:
            print_json(result)
        elif result["verified"]:
            console.print("Verified: the domain is active.")
        else:
            api.fail(f"Not verified: {result['message']}")


@domains_app.command("delete")
def domains_delete(domain_id: int = DomainArgument, as_json: bool = JsonOption) -> None:
    """Delete a redirect domain and its hits."""
    with Api(as_json=as_json) as api:
        name = api.get(f"{V1}/domains/{domain_id}")["domain"]["domain"]
        api.delete(f"{V1}/domains/{domain_id}")
    if as_json:
        print_json({"ok": True, "id": domain_id, "domain": name})
    else:
        console.print(f"Deleted {name}.")


@redirect_app.command("caddy-config")
def caddy_config(
    email: str | None = typer.Option(None, "--email", metavar="EMAIL", help="ACME account e-mail."),
    ask_url: str | None = typer.Option(
        None,
        "--ask-url",
        metavar="URL",
        help="The TLS ask endpoint (default: this API's /api/redirect/tls-ask).",
    ),
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        metavar="HOST:PORT",
        help="The data plane address (default 127.0.0.1:REDIRECT_PORT).",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Print a Caddyfile: on-demand TLS for active redirect domains, in front of the data plane.
    Reads the ports from the settings (STELLWERK_PORT, STELLWERK_REDIRECT_PORT); needs no
    running server."""
    from stellwerk.redirect.caddy import caddyfile

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
) -> dict[str, object]:
    return {
        "status_code": status or 410,
        "sunset_date": date,
        "company_name": company,
        "title": title,
        "message": message,
    }


@domains_app.command("update")
def domains_update(
    domain_id: int = DomainArgument,
    target: str | None = typer.Option(
        None, "--target", "-t", metavar="URL", help="Where to send visitors."
    ),
    code: int | None = typer.Option(None, "--code", metavar="CODE", help="301, 302, 307 or 308."),
    preserve_path: bool | None = typer.Option(
        None, "--preserve-path/--no-preserve-path", help="Keep path and query."
    ),
    include_www: bool | None = typer.Option(None, "--www/--no-www", help="Also answer www."),
    group: str | None = typer.Option(
        None, "--group", metavar="GROUP", help="Move into this group (id or name)."
    ),
    no_group: bool = typer.Option(False, "--no-group", help="Take the domain out of its group."),
    sunset_status: int | None = typer.Option(
        None,
        "--sunset",
        metavar="STATUS",
        help="Show a sunset page instead: 410 (closed) or 200 (moved).",
    ),
    sunset_date: str | None = typer.Option(
        None, "--sunset-date", metavar="YYYY-MM-DD", help="The day it closed or moved."
    ),
    sunset_company: str | None = typer.Option(
        None, "--sunset-company", metavar="NAME", help="Company name."
    ),
    sunset_title: str | None = typer.Option(
        None, "--sunset-title", metavar="TITLE", help="Page title."
    ),
    sunset_message: str | None = typer.Option(
        None, "--sunset-message", metavar="MESSAGE", help="Page text."
    ),
    no_sunset: bool = typer.Option(False, "--no-sunset", help="Redirect again."),
    as_json: bool = JsonOption,
) -> None:
    """Change a redirect domain's settings (not its name); its hits stay. Only the options
    given change; the data plane follows within a second."""
    changes: dict[str, object] = {}
    if target is not None:
        changes["target_url"] = target
    if code is not None:
        changes["redirect_code"] = code
    if preserve_path is not None:
        changes["preserve_path"] = preserve_path
    if include_www is not None:
        changes["include_www"] = include_www
    if no_sunset:
        changes["sunset_config"] = None
    elif sunset_status is not None or sunset_date is not None:
        changes["sunset_config"] = _sunset_option(
            sunset_status, sunset_date, sunset_company, sunset_title, sunset_message
        )
    if not changes and group is None and not no_group:
        fail("Nothing to change: give at least one option (see --help)", as_json=as_json)
    with Api(as_json=as_json) as api:
        if no_group:
            changes["group_id"] = None
        elif group is not None:
            changes["group_id"] = _group_id(api, group)
        before = api.get(f"{V1}/domains/{domain_id}")["domain"]
        after = api.patch(f"{V1}/domains/{domain_id}", json=changes)["domain"]
    changed = sorted(k for k in changes if before.get(k) != after.get(k))
    if as_json:
        print_json({"domain": after, "changed": changed})
    elif changed:
        console.print(f"Changed {', '.join(changed)}.")
    else:
        console.print("Nothing changed.")


@domains_app.command("check")
def domains_check(domain_id: int = DomainArgument, as_json: bool = JsonOption) -> None:
    """Follow the domain's target now: redirect chain, loops, final status, certificate."""
    with Api(as_json=as_json) as api:
        result = api.post(f"{V1}/domains/{domain_id}/check")["domain"]["target_check"]
        if as_json:
            print_json(result)
            return
        for hop in result["hops"]:
            out.print(f"  {hop['status']}  {hop['url']}", markup=False, highlight=False)
        if result["ok"]:
            console.print(f"The target works ({result['chain_length']} redirects).")
        else:
            reason = result["error"] or f"HTTP {result['final_status']}"
            api.fail(f"The target is failing: {reason}")


@domains_app.command("qr")
def domains_qr(
    domain_id: int = DomainArgument,
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="FILE", help="File to write (.svg or .png)."
    ),
    scale: int = typer.Option(8, "--scale", metavar="N", min=1, max=40, help="Pixels per module."),
) -> None:
    """Write a QR code opening https://<domain>/ (the format follows the file's suffix)."""
    kind = output.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        fail("The output file must end in .svg or .png")
    with Api() as api:
        image = api.content("GET", f"{V1}/domains/{domain_id}/qr.{kind}", params={"scale": scale})
    output.write_bytes(image)
    console.print(f"Wrote {output}.")


@domains_app.command("import")
def domains_import(
    file: Path = typer.Argument(
        ..., metavar="FILE", exists=True, dir_okay=False, help="The CSV file."
    ),
    apply: bool = typer.Option(False, "--apply", help="Apply; without it, a dry run."),
    as_json: bool = JsonOption,
) -> None:
    """Create or update your domains from a CSV (the export's columns). A dry run unless
    --apply; rows with errors are reported and skipped. Exits 1 when a row has an error."""
    with Api(as_json=as_json) as api:
        report = api.post(
            f"{V1}/domains/import.csv",
            content=file.read_bytes(),
            headers={"Content-Type": "text/csv"},
            params={"dry_run": str(not apply).lower()},
        )
    if as_json:
        print_json(report)
    else:
        table = Table("row", "domain", "result", "details")
        for row in report["rows"]:
            if row["action"] != "unchanged":
                details = row.get("error") or ", ".join(row.get("changes") or [])
                table.add_row(str(row["row"]), row["domain"], row["action"], details)
        out.print(table)
        verb = "Would create" if report["dry_run"] else "Created"
        console.print(
            f"{verb} {report['created']}, updated {report['updated']}, "
            f"unchanged {report['unchanged']}, errors {report['errors']}."
            + ("" if apply else " Run again with --apply to apply.")
        )
    if report["errors"]:
        raise typer.Exit(1)


def _download(path: str, output: Path | None, params: dict[str, Any]) -> None:
    with Api() as api:
        if output is None:
            api.download(path, sys.stdout.buffer, params=params)
            sys.stdout.flush()
            return
        handle: IO[bytes]
        with output.open("wb") as handle:
            api.download(path, handle, params=params)


@domains_app.command("export")
def domains_export(
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="File (default: standard output)."
    ),
    group: int | None = typer.Option(None, "--group", metavar="GROUP_ID", help="Only this group."),
) -> None:
    """Write your domains (every user's for admins) as CSV; `domains import` takes the file
    back unchanged."""
    _download(f"{V1}/domains/export.csv", output, {"group_id": group})


@hits_app.command("export")
def hits_export(
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="File (default: standard output)."
    ),
    domain_id: int | None = typer.Option(
        None, "--domain", metavar="DOMAIN_ID", help="Only this domain."
    ),
    since: datetime | None = typer.Option(
        None, "--from", metavar="YYYY-MM-DD", formats=["%Y-%m-%d"], help="First UTC day."
    ),
    until: datetime | None = typer.Option(
        None, "--to", metavar="YYYY-MM-DD", formats=["%Y-%m-%d"], help="Last UTC day."
    ),
) -> None:
    """Write hits as CSV, newest first: the daily visitor hash, never an address."""
    params = {
        "domain_id": domain_id,
        "from": since.date().isoformat() if since else None,
        "to": until.date().isoformat() if until else None,
    }
    _download(f"{V1}/hits/export.csv", output, params)


@groups_app.command("list")
def groups_list(as_json: bool = JsonOption) -> None:
    """List your redirect groups (every user's for admins) with their colour, target and
    number of domains."""
    with Api(as_json=as_json) as api:
        rows = api.get(f"{V1}/groups")["groups"]
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
    name: str = typer.Argument(..., metavar="NAME", help="The group's name."),
    color: str = typer.Option("#4f6d7a", "--color", metavar="#RRGGBB", help="Its colour."),
    target: str | None = typer.Option(None, "--target", metavar="URL", help="The group's target."),
    as_json: bool = JsonOption,
) -> None:
    """Create a group of yours."""
    body = {"name": name, "color": color, "target_url": target}
    with Api(as_json=as_json) as api:
        result = api.post(f"{V1}/groups", json=body)["group"]
    if as_json:
        print_json(result)
    else:
        console.print(f"Created the group {result['name']} (id {result['id']}).")


@groups_app.command("delete")
def groups_delete(
    group_id: int = typer.Argument(..., metavar="GROUP_ID", help="The group's id."),
    as_json: bool = JsonOption,
) -> None:
    """Delete a group; its domains stay, without a group."""
    with Api(as_json=as_json) as api:
        result = api.delete(f"{V1}/groups/{group_id}")
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Deleted the group; {result['domains_ungrouped']} domain(s) kept without a group."
        )
