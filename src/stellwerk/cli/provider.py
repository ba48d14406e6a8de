"""`stellwerk providers check`: is each configured provider usable, and what to fix if not
(through the server's API, with the server's settings)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, out, print_json

providers_app = typer.Typer(
    help="Provider accounts: INWX, Coolify, Hetzner DNS, PowerDNS and the compute providers.",
    no_args_is_help=True,
)

STYLE = {"ok": "green", "warning": "yellow", "failed": "red", "not_configured": "dim"}
MARK = {"ok": "✓", "warning": "!", "error": "✗"}
COMPUTE_TYPES = ("linode", "digitalocean", "hetzner")


@providers_app.command("check")
def check_command(
    only: list[str] = typer.Option(
        [],
        "--provider",
        metavar="PROVIDER",
        help="Check only this one (repeatable): inwx, coolify, hetzner, powerdns, or a compute "
        "provider's name or id.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check every configured provider with read-only calls: the credentials, the Coolify token's
    abilities, INWX's two-factor state, the clock and the rate limits. Nothing is created.
    Exits 1 when a provider fails its check."""
    reports: list[dict[str, Any]] = []
    with Api(as_json=as_json) as api:
        for entry in api.get("/api/admin/providers/integrations")["integrations"]:
            if not only or entry["name"] in only:
                checked = api.post(f"/api/admin/providers/integrations/{entry['name']}/check")
                reports.append(checked["check"])
        for provider in api.get("/api/admin/providers")["providers"]:
            if provider["type"] not in COMPUTE_TYPES:
                continue
            if only and not {provider["name"], str(provider["id"]), provider["type"]} & set(only):
                continue
            reports.append(api.post(f"/api/admin/providers/{provider['id']}/check")["check"])
    if as_json:
        print_json(reports)
    else:
        _show(reports)
    if any(r["verdict"] == "failed" for r in reports):
        raise typer.Exit(1)


def _show(reports: list[dict[str, Any]]) -> None:
    table = Table(show_lines=True)
    for column in ("Provider", "Verdict", "Findings"):
        table.add_column(column)
    for report in reports:
        lines: list[str] = []
        verdict = report["verdict"]
        for finding in report["findings"]:
            mark = "·" if verdict == "not_configured" else MARK[finding["level"]]
            lines.append(f"{mark} {finding['message']}")
            if finding.get("fix") and (finding["level"] != "ok" or verdict == "not_configured"):
                lines.append(f"  → {finding['fix']}")
        where = report.get("url") or ""
        name = f"{report['title']}\n[dim]{report['label']}[/dim]\n[dim]{where}[/dim]"
        table.add_row(name, f"[{STYLE[verdict]}]{verdict.replace('_', ' ')}[/]", "\n".join(lines))
    out.print(table)
