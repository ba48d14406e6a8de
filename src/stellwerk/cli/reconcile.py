"""`stellwerk reconcile`: the server's database next to every provider's state, as a table or
JSON (through the server's API)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, console, out, print_json


def reconcile_command(as_json: bool = JsonOption) -> None:
    """Compare servers, registrar domains, Coolify projects and module units with their
    providers; exit 0 when everything matches, 1 otherwise. Changes nothing."""
    with Api(as_json=as_json) as api:
        report = api.get("/api/admin/reconcile")
    if as_json:
        print_json(report)
    else:
        _show(report)
    raise typer.Exit(0 if report["matches"] else 1)


def _show(report: dict[str, Any]) -> None:
    checked = ", ".join(
        f"{area}: " + ", ".join(f"{scope} {count}" for scope, count in scopes.items())
        for area, scopes in report["checked"].items()
    )
    console.print(f"Compared {checked or 'nothing (no providers in use)'}")
    if report["matches"]:
        console.print("[green]Everything matches.[/green]")
        return
    table = Table(title=f"{len(report['findings'])} mismatch(es)")
    for column in ("Area", "Where", "Kind", "Resource", "Ours", "Theirs", "Detail"):
        table.add_column(column)
    for finding in report["findings"]:
        table.add_row(
            finding["area"],
            finding["scope"],
            finding["kind"],
            finding["subject"],
            finding["ours"] or "-",
            finding["theirs"] or "-",
            finding["detail"],
        )
    out.print(table)
