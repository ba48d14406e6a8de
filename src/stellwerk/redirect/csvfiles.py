"""CSV files of redirect domains (import and export) and of hits (export).

A domain export imports again unchanged: the import matches rows to the caller's domains by name,
creates what is new, updates what differs and leaves the rest alone, so importing the same file
twice changes nothing. A dry run reports what each row would do and writes nothing. Columns the
file does not have keep their current value (or the default for new domains); the original
product's column names (`group_name`, `target`, `code`, `www`, …) are understood too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.database import Database
from stellwerk.exceptions import BadRequest, StellwerkError
from stellwerk.kit.csvfile import read_csv, safe_cell
from stellwerk.kit.time import iso
from stellwerk.models import RedirectDomain, RedirectGroup, RedirectHit, User
from stellwerk.redirect import analytics, sunset
from stellwerk.redirect.names import normalize_domain
from stellwerk.redirect.repository import (
    DomainFilter,
    DomainRepository,
    GroupRepository,
    RoutingStateRepository,
)
from stellwerk.redirect.service import DEFAULT_COLOR, group_service, hit
from stellwerk.redirect.service import domain as domain_service

MAX_ROWS = 10_000
DOMAIN_COLUMNS = [
    "domain",
    "target_url",
    "redirect_code",
    "preserve_path",
    "include_www",
    "group",
    "group_color",
    "sunset_status",
    "sunset_date",
    "sunset_title",
    "sunset_message",
    "sunset_button_label",
    "sunset_company",
    # Informational: ignored by the import.
    "status",
    "total_hits",
    "bots",
    "last_hit",
    "created_at",
    "target_status",
]
HIT_COLUMNS = [
    "id",
    "domain_id",
    "host",
    "time",
    "ip_hash",
    "country",
    "path",
    "referer",
    "user_agent",
    "browser",
    "os",
    "device",
    "is_bot",
]
# Other names a column goes by (the original product's export and import).
ALIASES = {
    "host": "domain",
    "target": "target_url",
    "url": "target_url",
    "code": "redirect_code",
    "preserve": "preserve_path",
    "www": "include_www",
    "group_name": "group",
    "gruppe": "group",
}
SUNSET_COLUMNS = {
    "sunset_date": "sunset_date",
    "sunset_title": "title",
    "sunset_message": "message",
    "sunset_button_label": "button_label",
    "sunset_company": "company_name",
}
_TRUE = {"1", "true", "yes", "ja", "on"}
_FALSE = {"0", "false", "no", "nein", "off"}


@dataclass
class RowResult:
    row: int
    domain: str
    action: str  # create | update | unchanged | error
    changes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ImportResult:
    dry_run: bool
    rows: list[RowResult]
    groups_created: list[str]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)


def _flag(value: str, column: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{column} must be 1/0, true/false or yes/no")


def _parse(text: str) -> list[dict[str, str]]:
    sample = text.removeprefix("\ufeff")
    first = sample.split("\n", 1)[0]
    # Spreadsheets with a German locale write semicolons.
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        rows = read_csv(sample, delimiter=delimiter)
    except (csv.Error, ValueError) as error:
        raise BadRequest(f"The file is not valid CSV: {error}", code="invalid_csv") from error
    return [{ALIASES.get(k, k): v for k, v in row.items()} for row in rows]


class CsvFiles:
    async def import_domains(
        self,
        session: AsyncSession,
        actor: Actor,
        owner: User,
        text: str,
        *,
        dry_run: bool,
    ) -> ImportResult:
        """Create, update or keep each row's domain (the owner's); report every row. Rows that
        fail are reported and skipped, the others applied. A dry run does exactly the same
        inside a savepoint that it rolls back, so its report is what applying would do."""
        rows = _parse(text)
        if rows and "domain" not in rows[0]:
            raise BadRequest("The CSV needs a `domain` column", code="invalid_csv")
        if len(rows) > MAX_ROWS:
            raise BadRequest(f"At most {MAX_ROWS} rows per import", code="too_many_rows")
        outer = await session.begin_nested() if dry_run else None
        try:
            report = await self._import(session, actor, owner, rows, dry_run=dry_run)
        finally:
            if outer is not None:
                await outer.rollback()
        return report

    async def _import(
        self,
        session: AsyncSession,
        actor: Actor,
        owner: User,
        rows: list[dict[str, str]],
        *,
        dry_run: bool,
    ) -> ImportResult:
        columns = set(rows[0]) if rows else set()
        names: dict[int, str] = {}
        for number, row in enumerate(rows, start=2):
            try:
                names[number] = normalize_domain(row.get("domain", ""))
            except StellwerkError:
                continue
        existing = {
            d.domain: d
            for d in await DomainRepository(session).get_by_names(sorted(set(names.values())))
        }
        groups: dict[str, RedirectGroup] = {}
        groups_created: list[str] = []
        results: list[RowResult] = []
        seen: set[str] = set()
        changed = False
        for number, row in enumerate(rows, start=2):
            shown = row.get("domain", "")
            name = names.get(number)
            result = RowResult(number, name or shown, "error")
            results.append(result)
            if name is None:
                try:
                    normalize_domain(shown)
                except StellwerkError as error:
                    result.error = error.message
                continue
            if name in seen:
                result.error = "the domain appears twice in the file"
                continue
            seen.add(name)
            record = existing.get(name)
            if record is not None and record.owner_id != owner.id:
                result.error = f"{name} is another account's redirect domain"
                continue
            try:
                settings = self._settings(row, columns)
                group_name = settings.pop("group", None)
                color = settings.pop("group_color", None) or DEFAULT_COLOR
                if group_name:
                    key = group_name.lower()
                    if key not in groups:
                        found = await GroupRepository(session).by_name(owner.id, group_name)
                        if found is None:
                            found = await group_service.create(
                                session, actor, owner, name=group_name, color=color
                            )
                            groups_created.append(found.name)
                        groups[key] = found
                    settings["group_id"] = groups[key].id
                elif group_name == "":
                    settings["group_id"] = None
                async with session.begin_nested():
                    if record is None:
                        record = await domain_service.create(
                            session, actor, owner, domain=name, announce=False, **settings
                        )
                        existing[name] = record
                        result.action = "create"
                        changed = True
                    else:
                        diff = await domain_service.update(
                            session, actor, record, settings, announce=False
                        )
                        result.changes = sorted(diff)
                        result.action = "update" if diff else "unchanged"
                        changed = changed or bool(diff)
            except (StellwerkError, ValueError) as error:
                result.action = "error"
                result.changes = []
                result.error = error.message if isinstance(error, StellwerkError) else str(error)
                if record is not None and record.id in {r.id for r in existing.values()}:
                    await session.refresh(record)  # the row's savepoint rolled back
        report = ImportResult(dry_run=dry_run, rows=results, groups_created=groups_created)
        if changed:
            await RoutingStateRepository(session).bump()
        await audit.record(
            session,
            actor,
            "redirect_domain.import",
            target_type="redirect_domain",
            detail={
                "created": report.count("create"),
                "updated": report.count("update"),
                "unchanged": report.count("unchanged"),
                "errors": report.count("error"),
                "groups_created": groups_created,
            },
        )
        return report

    def _settings(self, row: dict[str, str], columns: set[str]) -> dict[str, Any]:
        """The settings a row gives (only for the columns the file has)."""
        settings: dict[str, Any] = {}
        if "target_url" in columns and row.get("target_url"):
            settings["target_url"] = row["target_url"]
        if "redirect_code" in columns and row.get("redirect_code"):
            code = row["redirect_code"].strip()
            if not code.isdecimal():
                raise ValueError("redirect_code must be 301, 302, 307 or 308")
            settings["redirect_code"] = int(code)
        for column in ("preserve_path", "include_www"):
            if column in columns and row.get(column):
                settings[column] = _flag(row[column], column)
        if "group" in columns:
            settings["group"] = row.get("group", "").strip()
            if row.get("group_color"):
                settings["group_color"] = row["group_color"].strip()
        if "sunset_status" in columns:
            status = row.get("sunset_status", "").strip()
            if not status:
                settings["sunset_config"] = None
            else:
                config: dict[str, Any] = {"status_code": status}
                for column, key in SUNSET_COLUMNS.items():
                    if row.get(column):
                        config[key] = row[column]
                settings["sunset_config"] = sunset.normalize(config)
        return settings

    async def export_domains(self, database: Database, where: DomainFilter) -> AsyncIterator[str]:
        """The domains as CSV, streamed a chunk at a time."""
        yield _line(DOMAIN_COLUMNS)
        async with database.session() as session:
            groups = {g.id: g for g, _ in await GroupRepository(session).list(owner_id=None)}
            chunk: list[str] = []
            async for record in DomainRepository(session).stream(where):
                chunk.append(_line(_domain_cells(record, groups.get(record.group_id or 0))))
                if len(chunk) >= 500:
                    yield "".join(chunk)
                    chunk = []
            if chunk:
                yield "".join(chunk)

    async def export_hits(
        self,
        database: Database,
        *,
        domain_ids: list[int] | None,
        include_orphans: bool,
        since_ms: int | None,
        until_ms: int | None,
    ) -> AsyncIterator[str]:
        """Hits newest first as CSV: the daily visitor hash, never an address."""
        yield _line(HIT_COLUMNS)
        async for rows in hit.export(
            database,
            domain_ids=domain_ids,
            include_orphans=include_orphans,
            since_ms=since_ms,
            until_ms=until_ms,
        ):
            yield "".join(_line(_hit_cells(row)) for row in rows)


def _line(cells: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return iso(dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)) or ""


def _domain_cells(record: RedirectDomain, group: RedirectGroup | None) -> list[object]:
    config = record.sunset_config or {}
    return [
        record.domain,
        record.target_url,
        record.redirect_code,
        1 if record.preserve_path else 0,
        1 if record.include_www else 0,
        group.name if group else "",
        group.color if group else "",
        config.get("status_code") or "",
        config.get("sunset_date") or "",
        config.get("title") or "",
        config.get("message") or "",
        config.get("button_label") or "",
        config.get("company_name") or "",
        record.status,
        record.total_hits - record.bot_hits,
        record.bot_hits,
        _when(record.last_hit),
        iso(record.created_at),
        record.target_status or "",
    ]


def _hit_cells(row: RedirectHit) -> list[object]:
    agent = analytics.agent(row.user_agent)
    return [
        row.id,
        row.domain_id if row.domain_id is not None else "",
        row.host,
        _when(row.ts),
        row.ip_hash,
        row.country or "",
        row.path,
        row.referer or "",
        row.user_agent or "",
        agent.browser,
        agent.os,
        agent.device,
        1 if row.is_bot else 0,
    ]


csv_files = CsvFiles()
