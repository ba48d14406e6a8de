"""The probe: a harmless operation that proves the workflow engine end to end.

Each of its N steps waits a moment and writes one event; after a crash and restart, the events show
that completed steps did not run again. With `ask`, it stops after its first step with a question
(go on or stop), which proves prompts end to end. `stellwerk ops probe` and
`POST /api/operations/probe` start it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from stellwerk.models import OperationEvent
from stellwerk.operation.context import StepContext
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.workflow import (
    OperationContext,
    OperationDeclined,
    operation_workflow,
    step,
)

KIND = "probe"
MAX_STEPS = 20
MAX_SECONDS = 30.0
QUESTION = "go_on"


@step("probe.step")
async def probe_step(
    ctx: StepContext, operation_id: str, number: int, total: int, seconds: float
) -> int:
    await asyncio.sleep(seconds)
    async with ctx.database.session() as session:
        await OperationRepository(session).add_event(
            OperationEvent(
                operation_id=uuid.UUID(operation_id),
                progress=int(100 * (number - 1) / total),
                message=f"Probe step {number} of {total} ran",
                step=f"probe-{number}",
                status="running",
            )
        )
    return number


@operation_workflow(KIND)
async def probe(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    total = int(input["steps"])
    seconds = float(input["seconds"])
    for number in range(1, total + 1):
        await probe_step(ctx, ctx.operation_id, number, total, seconds)
        await ctx.progress(
            int(100 * number / total), f"Step {number} of {total} done", step=f"step-{number}"
        )
        if number == 1 and input.get("ask"):
            choice = await ctx.ask(
                QUESTION,
                f"The probe ran step 1 of {total}: go on?",
                [("continue", "Go on"), ("stop", "Stop the probe")],
                timeout_seconds=input.get("ask_timeout_seconds"),
            )
            if choice == "stop":
                raise OperationDeclined("Stopped after step 1, as answered")
    return {"steps": total}
