"""`stellwerk reconcile`: our database next to every provider's state, as a table or JSON."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

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
from stellwerk.reconcile.service import Report, reconcile_service
from stellwerk.runtime import Runtime


def reconcile_command(data_dir: Path | None = DataDirOption, as_json: bool = JsonOption) -> None:
    """Compare servers, registrar domains, Coolify projects and module units with their
    providers; exit 0 when everything matches, 1 otherwise. Changes nothing."""
    settings = load_settings(**data_dir_override(data_dir))

    async def work(runtime: Runtime, session: AsyncSession) -> Report:
        return await reconcile_service.report(session, runtime.settings)

    report = run_in_session(settings, work)
    if as_json:
        print_json(report.as_json())
    else:
        _show(report)
    raise typer.Exit(0 if report.matches else 1)


def _show(report: Report) -> None:
    checked = ", ".join(
        f"{area}: " + ", ".join(f"{scope} {count}" for scope, count in scopes.items())
        for area, scopes in report.checked.items()
    )
    console.print(f"Compared {checked or 'nothing (no providers in use)'}")
    if report.matches:
        console.print("[green]Everything matches.[/green]")
        return
    table = Table(title=f"{len(report.findings)} mismatch(es)")
    for column in ("Area", "Where", "Kind", "Resource", "Ours", "Theirs", "Detail"):
        table.add_column(column)
    for finding in report.findings:
        table.add_row(
            finding.area,
            finding.scope,
            finding.kind,
            finding.subject,
            finding.ours or "-",
            finding.theirs or "-",
            finding.detail,
        )
    out.print(table)
