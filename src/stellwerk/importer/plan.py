"""An import's plan: per entity what would be created, updated, skipped or refused, and why.

An importer reads its source and Stellwerk's state into a plan without writing anything (the dry
run); applying runs the very same plan's steps. Entities that are already in place are skipped, so
a second import plans nothing to create or update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit

Verdict = Literal["create", "update", "skip", "refuse"]
VERDICTS: tuple[Verdict, ...] = ("create", "update", "skip", "refuse")
Step = Callable[[], Awaitable[None]]


@dataclass
class Entry:
    entity: str
    key: str
    verdict: Verdict
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    step: Step | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "key": self.key,
            "action": self.verdict,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class ImportPlan:
    source: str
    entries: list[Entry] = field(default_factory=list)
    applied: bool = False

    def add(
        self,
        entity: str,
        key: str,
        verdict: Verdict,
        reason: str = "",
        *,
        step: Step | None = None,
        **detail: Any,
    ) -> Entry:
        entry = Entry(entity, key, verdict, reason, detail, step)
        self.entries.append(entry)
        return entry

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for e in self.entries if e.verdict == v) for v in VERDICTS}

    @property
    def changes(self) -> int:
        return sum(1 for e in self.entries if e.verdict in ("create", "update"))

    async def apply(self) -> None:
        """Run the plan's steps in order (entities refused or skipped have none)."""
        for entry in self.entries:
            if entry.step is not None and entry.verdict in ("create", "update"):
                await entry.step()
        self.applied = True

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": not self.applied,
            "counts": self.counts(),
            "entries": [e.as_json() for e in self.entries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportPlan:
        """A plan as `as_json` wrote it (without its steps: a report to show)."""
        plan = cls(str(data["source"]), applied=not data["dry_run"])
        for entry in data.get("entries") or ():
            verdict = entry["action"]
            if verdict not in VERDICTS:
                raise ValueError(f"unknown verdict {verdict}")
            plan.add(
                str(entry["entity"]),
                str(entry["key"]),
                verdict,
                str(entry.get("reason") or ""),
                **dict(entry.get("detail") or {}),
            )
        return plan


async def apply_plan(session: AsyncSession, actor: Actor, plan: ImportPlan) -> ImportPlan:
    """Apply a plan and write the import's audit entry (`import.<source>`, with its counts)."""
    await plan.apply()
    await audit.record(
        session,
        actor,
        f"import.{plan.source}",
        target_type="import",
        target_id=plan.source,
        detail={"counts": plan.counts()},
    )
    return plan
