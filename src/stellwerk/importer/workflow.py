"""Imports as durable operations (`import.<source>`): a dry run, or the import itself.

The plan runs as one step (its transaction committed, or rolled back on a dry run); the large
tables are streamed in a second step, batch by batch, each batch committed with the cursor that
says how far the import got, so a process killed at any point goes on where it stopped; the audit
entry is the last step. Each streamed batch writes the operation's progress. The result is the
report: per entity what was (or would be) created, updated, skipped or refused, and why.

Imports take turns: each host runs the imports started there (which read its files) from a queue
of its own, one at a time.
"""

from __future__ import annotations

import uuid
from typing import Any

from stellwerk.importer import frame
from stellwerk.importer.frame import Importer, Report, StreamContext
from stellwerk.importer.plan import apply_plan
from stellwerk.importer.service import (
    FRAME_SOURCES,
    SOURCES,
    actor_of,
    build,
    kind_of,
    open_parameters,
    plan_of,
    queue_for,
)
from stellwerk.models import OperationEvent
from stellwerk.operation import engine
from stellwerk.operation.context import StepContext
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.workflow import OperationContext, operation_workflow, step

# This host's imports (`service.start` puts each import on the queue of the host starting it).
QUEUE = queue_for(engine.this_host())
engine.register_queue(QUEUE, global_concurrency=1, worker_concurrency=1)
FORMAT_REPORT = "report"
FORMAT_PLAN = "plan"


async def _note(ctx: StepContext, operation_id: str, messages: list[str]) -> None:
    """Progress of the streaming: the last message on the operation, each one as an event."""
    async with ctx.database.session() as session:
        repository = OperationRepository(session)
        op_id = uuid.UUID(operation_id)
        operation = await repository.get(op_id)
        if operation is None:
            return
        for message in messages:
            await repository.add_event(
                OperationEvent(
                    operation_id=op_id,
                    progress=operation.progress,
                    message=message[:500],
                    step="stream",
                    status="running",
                )
            )
        await repository.set_status(op_id, only_from=("running",), message=messages[-1][:500])


@step("import.plan")
async def plan_step(ctx: StepContext, input: dict[str, Any]) -> dict[str, Any]:
    """Plan (and unless a dry run, apply) what fits one transaction; returns the report."""
    source = str(input["source"])
    dry_run = bool(input["dry_run"])
    parameters = open_parameters(ctx.settings, input)
    actor = actor_of(input)
    database = ctx.database
    if source in FRAME_SOURCES:
        importer = build(source, parameters, ctx.settings)
        report = Report(source=importer.source, dry_run=dry_run)
        await frame.plan(database, importer, report, actor=actor)
        return {**report.state(), "format": FORMAT_REPORT}
    async with database.session() as session:
        plan = await plan_of(source, parameters, session, ctx.settings, actor)
        if not dry_run:
            await apply_plan(session, actor, plan)
    return {**plan.as_json(), "changes": plan.changes, "format": FORMAT_PLAN}


@step("import.stream")
async def stream_step(
    ctx: StepContext, operation_id: str, input: dict[str, Any], state: dict[str, Any]
) -> Any:
    """Stream the large tables after the plan (counted only, on a dry run)."""
    parameters = open_parameters(ctx.settings, input)
    importer = build(str(input["source"]), parameters, ctx.settings)
    if type(importer).stream is Importer.stream:
        return state  # nothing to stream: the plan did it all
    database = ctx.database
    await frame.prepare(database, importer, actor=actor_of(input))
    report = Report.from_state(state)
    pending: list[str] = []

    async def flush() -> None:
        if pending:
            messages = pending[:]
            pending.clear()
            await _note(ctx, operation_id, messages)

    await importer.stream(
        StreamContext(importer.source, database, report, pending.append, after_batch=flush)
    )
    await flush()
    return {**report.state(), "format": FORMAT_REPORT}


@step("import.record")
async def record_step(ctx: StepContext, input: dict[str, Any], state: dict[str, Any]) -> None:
    parameters = open_parameters(ctx.settings, input)
    importer = build(str(input["source"]), parameters, ctx.settings)
    await frame.record(ctx.database, importer, Report.from_state(state), actor_of(input))


def _counted(state: dict[str, Any]) -> str:
    entries = state.get("entries") or []
    return f"{len(entries)} object(s) planned"


async def run_import(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    dry_run = bool(input["dry_run"])
    await ctx.progress(5, "Planning (dry run)" if dry_run else "Planning", step="plan")
    state: dict[str, Any] = await plan_step(ctx, input)
    await ctx.progress(40, _counted(state), step="planned")
    if state["format"] == FORMAT_REPORT:
        await ctx.progress(45, "Streaming", step="stream")
        state = await stream_step(ctx, ctx.operation_id, input, state)
        if not dry_run:
            await record_step(ctx, input, state)
    verb = "would change" if dry_run else "changed"
    changes = Report.from_state(state).changes if state["format"] == FORMAT_REPORT else None
    if changes is None:
        changes = int(state.get("changes") or 0)
    await ctx.progress(95, f"{changes} object(s) {verb}", step="done")
    return state


WORKFLOWS = {
    source: operation_workflow(kind_of(source), queue=QUEUE)(run_import) for source in SOURCES
}
