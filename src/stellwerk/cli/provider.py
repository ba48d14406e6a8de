"""`stellwerk providers check`: is each configured provider usable, and what to fix if not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    data_dir_override,
    load_settings,
    open_runtime,
    out,
    print_json,
)
from stellwerk.provider import check as check_kit
from stellwerk.provider import registry
from stellwerk.runtime import Runtime
from stellwerk.server.service import provider_service

providers_app = typer.Typer(
    help="Provider accounts: INWX, Coolify, Hetzner DNS, PowerDNS and the compute providers.",
    no_args_is_help=True,
)

STYLE = {"ok": "green", "warning": "yellow", "failed": "red", "not_configured": "dim"}
MARK = {"ok": "✓", "warning": "!", "error": "✗"}


@providers_app.command("check")
def check_command(
    only: list[str] = typer.Option(
        [],
        "--provider",
        help="Check only this one (repeatable): inwx, coolify, hetzner, powerdns, or a compute "
        "provider's name or id.",
    ),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Check every configured provider with read-only calls: the credentials, the Coolify token's
    abilities, INWX's two-factor state, the clock and the rate limits. Nothing is created.
    Exits 1 when a provider fails its check."""
    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> list[check_kit.Report]:
        reports = [
            await check_kit.check_settings_provider(settings, entry.name)
            for entry in registry.settings_providers()
            if not only or entry.name in only
        ]
        async with open_runtime(settings) as runtime, runtime.database.session() as session:
            reports.extend(await _compute(runtime, session, only))
        return reports

    reports = asyncio.run(main())
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        _show(reports)
    if any(r.verdict == "failed" for r in reports):
        raise typer.Exit(1)


async def _compute(
    runtime: Runtime, session: AsyncSession, only: list[str]
) -> list[check_kit.Report]:
    reports = []
    for provider in await provider_service.list(session):
        if provider.type not in registry.compute_types():
            continue
        if only and not {provider.name, str(provider.id), provider.type} & set(only):
            continue
        reports.append(await provider_service.check(session, runtime.settings, provider))
    return reports


def _show(reports: list[check_kit.Report]) -> None:
    table = Table(show_lines=True)
    for column in ("Provider", "Verdict", "Findings"):
        table.add_column(column)
    for report in reports:
        lines: list[str] = []
        for finding in report.findings:
            mark = "·" if report.verdict == "not_configured" else MARK[finding.level]
            lines.append(f"{mark} {finding.message}")
            if finding.fix and (finding.level != "ok" or report.verdict == "not_configured"):
                lines.append(f"  → {finding.fix}")
        where: Any = report.url or ""
        name = f"{report.title}\n[dim]{report.label}[/dim]\n[dim]{where}[/dim]"
        verdict = report.verdict.replace("_", " ")
        table.add_row(name, f"[{STYLE[report.verdict]}]{verdict}[/]", "\n".join(lines))
    out.print(table)
