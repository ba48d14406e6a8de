"""Writing an operation: `@operation_workflow("kind")` turns a body into a durable workflow.

    @operation_workflow("module.install")
    async def install(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
        await ctx.progress(10, "Downloading archive")
        path = await download(input["module_id"])          # a @DBOS.step: checkpointed
        await ctx.progress(60, "Module files copied")
        return {"path": path}

The body runs as workflow code: deterministic, with all I/O inside `@DBOS.step` functions, so a
process killed mid-way resumes after its last completed step. Inputs are ids and plain values.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from dbos import DBOS

from stellwerk.exceptions import StellwerkError
from stellwerk.kit.time import utc_now
from stellwerk.models import OperationEvent
from stellwerk.operation.engine import DEFAULT_QUEUE, worker_database
from stellwerk.operation.repository import OperationRepository

log = logging.getLogger(__name__)

Body = Callable[["OperationContext", dict[str, Any]], Awaitable[dict[str, Any]]]
Workflow = Callable[[str], Coroutine[Any, Any, dict[str, Any]]]

FINISHED = ("completed", "failed", "cancelled")


class OperationCancelled(Exception):
    """Raised inside a workflow when its operation was cancelled from outside."""


@dataclass(frozen=True)
class OperationKind:
    name: str
    workflow: Workflow
    queue: str

    @property
    def workflow_name(self) -> str:
        return f"operation.{self.name}"


KINDS: dict[str, OperationKind] = {}


@DBOS.step(name="operation.begin")
async def _begin(operation_id: str) -> dict[str, Any]:
    database = worker_database()
    async with database.session() as session:
        repository = OperationRepository(session)
        operation = await repository.get(uuid.UUID(operation_id))
        if operation is None:
            raise LookupError(f"operation {operation_id} does not exist")
        if operation.status == "cancelled":
            raise OperationCancelled(operation_id)
        await repository.set_status(
            operation.id,
            only_from=("queued", "running"),
            status="running",
            started_at=operation.started_at or utc_now(),
            message="Running" if operation.status == "queued" else operation.message,
        )
        return dict(operation.input)


@DBOS.step(name="operation.progress")
async def _progress(operation_id: str, percent: int, message: str, step: str | None) -> None:
    database = worker_database()
    async with database.session() as session:
        repository = OperationRepository(session)
        operation = await repository.get(uuid.UUID(operation_id))
        if operation is None or operation.status == "cancelled":
            raise OperationCancelled(operation_id)
        percent = max(operation.progress, min(100, percent))
        await repository.set_status(
            operation.id, only_from=("running",), progress=percent, message=message[:500]
        )
        await repository.add_event(
            OperationEvent(
                operation_id=operation.id, progress=percent, message=message[:500], step=step
            )
        )


@DBOS.step(name="operation.finish")
async def _finish(
    operation_id: str, status: str, result: dict[str, Any] | None, error: dict[str, Any] | None
) -> None:
    database = worker_database()
    async with database.session() as session:
        repository = OperationRepository(session)
        op_id = uuid.UUID(operation_id)
        message = "Completed" if status == "completed" else (error or {}).get("message", status)
        values: dict[str, Any] = {
            "status": status,
            "message": str(message)[:500],
            "result": result,
            "error": error,
            "finished_at": utc_now(),
        }
        if status == "completed":
            values["progress"] = 100
        changed = await repository.set_status(op_id, only_from=("queued", "running"), **values)
        if changed:
            await repository.add_event(
                OperationEvent(
                    operation_id=op_id,
                    progress=100 if status == "completed" else 0,
                    message=str(message)[:500],
                    step="finish",
                )
            )


def describe_error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, StellwerkError):
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.field:
            body["field"] = error.field
        return body
    return {"code": "internal_error", "message": f"{type(error).__name__}: {error}"}


class OperationContext:
    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id

    async def progress(self, percent: int, message: str, *, step: str | None = None) -> None:
        """Report progress; also the point where a cancelled operation stops."""
        await _progress(self.operation_id, percent, message, step)


def operation_workflow(kind: str, *, queue: str = DEFAULT_QUEUE) -> Callable[[Body], Workflow]:
    def decorate(body: Body) -> Workflow:
        async def run(operation_id: str) -> dict[str, Any]:
            ctx = OperationContext(operation_id)
            try:
                operation_input = await _begin(operation_id)
                result = await body(ctx, operation_input)
            except OperationCancelled:
                return {"cancelled": True}
            except Exception as error:
                log.warning(
                    "operation failed",
                    extra={"operation_id": operation_id, "kind": kind, "error": str(error)},
                )
                await _finish(operation_id, "failed", None, describe_error(error))
                return {"failed": True}
            await _finish(operation_id, "completed", result, None)
            return result

        run.__name__ = run.__qualname__ = f"operation_{kind.replace('.', '_')}"
        workflow: Workflow = DBOS.workflow(name=f"operation.{kind}")(run)
        KINDS[kind] = OperationKind(name=kind, workflow=workflow, queue=queue)
        return workflow

    return decorate
