"""The plan/apply frame every importer runs in.

An importer walks its source once per run and says, for each object, what happens to it:
created, updated, skipped or refused, each with a reason. `run` first lets it do so inside a
transaction that is rolled back (the dry run) or committed (the import), so a dry run reports
exactly what the import will do and changes nothing. Large tables (hits) are streamed after
that in batches, each batch committed together with the cursor that says how far the import
got: an import stopped at any point and started again goes on where it stopped.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.database import Database
from stellwerk.exceptions import BadRequest
from stellwerk.importer.repository import ImportRecordRepository

Progress = Callable[[str], None]


class ImportFailed(BadRequest):
    """The source cannot be read as the importer expects it."""

    default_code = "import_failed"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Entry:
    entity: str
    key: str
    action: Action
    reason: str | None = None
    target_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "key": self.key,
            "action": self.action.value,
            "reason": self.reason,
            "target_id": self.target_id,
        }


@dataclass
class Report:
    """What an import did (or, as a dry run, would do)."""

    source: str
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)
    # Streamed entities are counted, not listed one by one: entity → action → count.
    streamed: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)

    def count(self, entity: str, action: Action, n: int = 1) -> None:
        self.streamed.setdefault(entity, Counter())[action.value] += n

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, Counter[str]] = {}
        for entry in self.entries:
            result.setdefault(entry.entity, Counter())[entry.action.value] += 1
        for entity, counter in self.streamed.items():
            result.setdefault(entity, Counter()).update(counter)
        return {
            entity: {action.value: counter[action.value] for action in Action}
            for entity, counter in result.items()
        }

    @property
    def changes(self) -> int:
        return sum(n[Action.CREATE.value] + n[Action.UPDATE.value] for n in self.counts().values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "changes": self.changes,
            "counts": self.counts(),
            "entries": [entry.as_dict() for entry in self.entries],
        }

    def state(self) -> dict[str, Any]:
        """`as_dict` with the streamed counts apart, which `from_state` reads back (a report
        handed from one step of an import operation to the next)."""
        return {
            **self.as_dict(),
            "streamed": {entity: dict(counter) for entity, counter in self.streamed.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Report:
        report = cls(source=str(state["source"]), dry_run=bool(state["dry_run"]))
        for entry in state.get("entries") or ():
            report.add(
                Entry(
                    entity=str(entry["entity"]),
                    key=str(entry["key"]),
                    action=Action(entry["action"]),
                    reason=entry.get("reason"),
                    target_id=entry.get("target_id"),
                )
            )
        for entity, counter in (state.get("streamed") or {}).items():
            report.streamed[str(entity)] = Counter({str(k): int(v) for k, v in counter.items()})
        return report


def digest(data: Any) -> str:
    """A fingerprint of a source object, to tell whether it changed since the last import."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class ImportContext:
    """One run's view: the session of the planning transaction, records and the report."""

    source: str
    session: AsyncSession
    report: Report
    actor: Actor
    progress: Progress

    @property
    def dry_run(self) -> bool:
        return self.report.dry_run

    @property
    def records(self) -> ImportRecordRepository:
        return ImportRecordRepository(self.session)

    async def target(self, entity: str, key: object) -> str | None:
        record = await self.records.get(self.source, entity, str(key))
        return record.target_id if record else None

    async def remember(
        self, entity: str, key: object, target_id: object, fingerprint: str | None = None
    ) -> None:
        await self.records.put(self.source, entity, str(key), str(target_id), fingerprint)

    async def unchanged(self, entity: str, key: object, fingerprint: str) -> bool:
        record = await self.records.get(self.source, entity, str(key))
        return record is not None and record.digest == fingerprint

    def created(
        self, entity: str, key: object, target_id: object, reason: str | None = None
    ) -> None:
        self.report.add(Entry(entity, str(key), Action.CREATE, reason, str(target_id)))

    def updated(
        self, entity: str, key: object, target_id: object, reason: str | None = None
    ) -> None:
        self.report.add(Entry(entity, str(key), Action.UPDATE, reason, str(target_id)))

    def skipped(self, entity: str, key: object, reason: str, target_id: object = None) -> None:
        target = None if target_id is None else str(target_id)
        self.report.add(Entry(entity, str(key), Action.SKIP, reason, target))

    def refused(self, entity: str, key: object, reason: str) -> None:
        self.report.add(Entry(entity, str(key), Action.REFUSE, reason))


@dataclass
class StreamContext:
    """Streaming after the plan: every batch is a transaction of its own (none on a dry run)."""

    source: str
    database: Database
    report: Report
    progress: Progress
    # Called after each batch's transaction ended (an operation writes its progress there).
    after_batch: Callable[[], Awaitable[None]] | None = None

    @property
    def dry_run(self) -> bool:
        return self.report.dry_run

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[AsyncSession]:
        async with self.database.session() as session:
            yield session
        if self.after_batch is not None:
            await self.after_batch()

    async def cursor(self, session: AsyncSession, name: str) -> int:
        record = await ImportRecordRepository(session).get(self.source, "cursor", name)
        return int(record.target_id) if record else 0

    async def advance(self, session: AsyncSession, name: str, position: int) -> None:
        await ImportRecordRepository(session).put(self.source, "cursor", name, str(position), None)


class Importer(ABC):
    """One source. `plan` decides and does, object by object, through the context; `stream`
    moves what is too large for one transaction."""

    source: ClassVar[str]

    @abstractmethod
    async def plan(self, ctx: ImportContext) -> None: ...

    async def stream(self, ctx: StreamContext) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        """What the audit entry says about the source (never a secret)."""
        return {}


class _DryRun(Exception):
    """Raised to roll the planning transaction back."""


async def plan(
    database: Database,
    importer: Importer,
    report: Report,
    *,
    actor: Actor,
    progress: Progress | None = None,
) -> None:
    """The plan part of an import, in one transaction: committed, or rolled back on a dry run."""
    say = progress or (lambda _message: None)
    try:
        async with database.session() as session:
            await importer.plan(ImportContext(importer.source, session, report, actor, say))
            if report.dry_run:
                raise _DryRun
    except _DryRun:
        pass


async def prepare(database: Database, importer: Importer, *, actor: Actor) -> None:
    """Plan once more in a transaction that is rolled back, only for what the importer learns
    while planning (which source objects it refused): streaming in a process other than the
    one that planned starts here."""
    scratch = Report(source=importer.source, dry_run=True)
    await plan(database, importer, scratch, actor=actor)


async def record(database: Database, importer: Importer, report: Report, actor: Actor) -> None:
    """The audit entry of an applied import."""
    async with database.session() as session:
        await audit.record(
            session,
            actor,
            f"import.{importer.source}",
            target_type="import",
            target_id=importer.source,
            detail={
                "source": importer.describe(),
                "changes": report.changes,
                # A list, so entity names are kept as they are in the audit log.
                "counts": [
                    {"entity": entity, **numbers}
                    for entity, numbers in sorted(report.counts().items())
                ],
            },
        )


async def run(
    database: Database,
    importer: Importer,
    *,
    dry_run: bool,
    actor: Actor | None = None,
    progress: Progress | None = None,
) -> Report:
    """Plan (and unless `dry_run`, apply) one import; write an audit entry when applied."""
    actor = actor or Actor.cli()
    report = Report(source=importer.source, dry_run=dry_run)
    say = progress or (lambda _message: None)
    await plan(database, importer, report, actor=actor, progress=say)
    await importer.stream(StreamContext(importer.source, database, report, say))
    if not dry_run:
        await record(database, importer, report, actor)
    return report
