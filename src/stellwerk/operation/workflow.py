"""Writing an operation: `@operation_workflow("kind")` turns a body into a durable workflow.

    @operation_workflow("module.install")
    async def install(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
        await ctx.progress(10, "Downloading archive")
        path = await download(ctx, input["module_id"])     # a @step: checkpointed
        await ctx.progress(60, "Module files copied")
        return {"path": path}

    @step("module.download")
    async def download(ctx: StepContext, module_id: str) -> str:
        async with ctx.database.session() as session: ...

The body runs as workflow code: deterministic, with all I/O inside `@step` functions, so a
process killed mid-way resumes after its last completed step. Inputs are ids and plain values.
`ctx` is also the steps' context (`operation/context.py`): their settings, database and
providers come from it, built once where the workflow starts.

A step whose infrastructure fails (Redis, the database's connection, the network to a provider:
`kit.transient`) is tried again with backoff for about a minute and a half before its error
counts; a step may add DBOS's own retries for errors of its own (`step(..., retries_allowed=True,
should_retry=...)`).

An operation can stop with a question and go on with the answer:

        choice = await ctx.ask("confirm", "Really?", [("yes", "Go on"), ("no", "Stop")])

The operation is `waiting` meanwhile; `OperationService.answer` records the answer and wakes the
workflow (DBOS `send`/`recv`; the question and its answer live in `operation_prompts`, so both
survive restarts). Without an answer in time it fails with `prompt_timeout`. A request may carry
answers in advance (`input["answers"]`, by question id): that question is then never asked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from dbos import DBOS
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.exceptions import Conflict, StellwerkError
from stellwerk.kit.time import iso, utc_now
from stellwerk.kit.transient import is_infrastructure_error
from stellwerk.models import Operation, OperationEvent, OperationPrompt
from stellwerk.notify.service import notifier
from stellwerk.operation.context import StepContext, workflow_context
from stellwerk.operation.engine import DEFAULT_QUEUE
from stellwerk.operation.repository import OperationRepository

log = logging.getLogger(__name__)

Body = Callable[["OperationContext", dict[str, Any]], Awaitable[dict[str, Any]]]
Workflow = Callable[[str], Coroutine[Any, Any, dict[str, Any]]]

FINISHED = ("completed", "failed", "cancelled")
ACTIVE = ("queued", "running", "waiting")
# The topic a waiting workflow listens on: any message wakes it to look at its prompt again.
PROMPT_TOPIC = "operation.prompt"
IN_ADVANCE = "in advance"
TIMED_OUT = "no answer in time"


class OperationCancelled(Exception):
    """Raised inside a workflow when its operation was cancelled from outside."""


class OperationDeclined(Exception):
    """Raised by a workflow body when an answer says not to go on: the operation ends
    `cancelled`, with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PromptTimedOut(Conflict):
    default_code = "prompt_timeout"


Option = tuple[str, str]  # (id, label)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Infrastructure failures inside a step: tried again after 0.5, 1, 2, 4, 8, 15, 15, 15, 15,
# 15 seconds (about 90 s in all) before the error counts.
INFRASTRUCTURE_ATTEMPTS = 11
INFRASTRUCTURE_BACKOFF_FIRST = 0.5
INFRASTRUCTURE_BACKOFF_MAX = 15.0


def outlast_infrastructure(name: str, function: F) -> F:
    """`function`, tried again with backoff while it fails on infrastructure."""

    @functools.wraps(function)
    async def resilient(*args: Any, **kwargs: Any) -> Any:
        delay = INFRASTRUCTURE_BACKOFF_FIRST
        for attempt in range(1, INFRASTRUCTURE_ATTEMPTS + 1):
            try:
                return await function(*args, **kwargs)
            except Exception as error:
                if attempt == INFRASTRUCTURE_ATTEMPTS or not is_infrastructure_error(error):
                    raise
                log.warning(
                    "step failed on infrastructure; trying again",
                    extra={"step": name, "attempt": attempt, "error": repr(error)[:300]},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, INFRASTRUCTURE_BACKOFF_MAX)
        raise AssertionError("unreachable")

    return cast(F, resilient)


def step(name: str, **options: Any) -> Callable[[F], F]:
    """A DBOS step that outlasts a moment of missing infrastructure (see the module's notes);
    `options` go to `DBOS.step`."""

    def decorate(function: F) -> F:
        return cast(F, DBOS.step(name=name, **options)(outlast_infrastructure(name, function)))

    return decorate


@dataclass(frozen=True)
class OperationKind:
    name: str
    workflow: Workflow
    queue: str

    @property
    def workflow_name(self) -> str:
        return f"operation.{self.name}"


KINDS: dict[str, OperationKind] = {}


@step("operation.begin")
async def _begin(ctx: StepContext, operation_id: str) -> dict[str, Any]:
    async with ctx.database.session() as session:
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


@step("operation.progress")
async def _progress(
    ctx: StepContext, operation_id: str, percent: int, message: str, step: str | None
) -> None:
    async with ctx.database.session() as session:
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
                operation_id=operation.id,
                progress=percent,
                message=message[:500],
                step=step,
                status="running",
            )
        )


@step("operation.finish")
async def _finish(
    ctx: StepContext,
    operation_id: str,
    status: str,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
) -> None:
    async with ctx.database.session() as session:
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
        changed = await repository.set_status(op_id, only_from=ACTIVE, **values)
        if changed:
            await repository.add_event(
                OperationEvent(
                    operation_id=op_id,
                    progress=100 if status == "completed" else 0,
                    message=str(message)[:500],
                    step="finish",
                    status=status,
                )
            )
            operation = await repository.get(op_id)
            if operation is not None:
                await _announce(session, operation)


# Failed operations of these kinds are also announced as their own event.
FAILED_EVENTS = {"module.install": "module.install_failed"}


async def _announce(session: AsyncSession, operation: Operation) -> None:
    """`operation.completed` / `operation.failed` (cancelled ones are not announced)."""
    if operation.status not in ("completed", "failed"):
        return
    data = {
        "operation_id": str(operation.id),
        "kind": operation.kind,
        "status": operation.status,
        "message": operation.message,
        "error": operation.error,
        "target_type": operation.target_type,
        "target_id": operation.target_id,
        "path": f"/ui/operations/{operation.id}",
        "summary": f"Operation {operation.kind} {operation.status}: {operation.message}"[:200],
    }
    await notifier.emit(session, f"operation.{operation.status}", data)
    special = FAILED_EVENTS.get(operation.kind)
    if operation.status == "failed" and special is not None:
        keys: tuple[str, ...] = ("module_name", "instance_id")
        names: dict[str, Any] = {k: operation.input[k] for k in keys if k in operation.input}
        await notifier.emit(
            session,
            special,
            {**data, **names, "summary": f"{operation.kind} failed: {operation.message}"[:200]},
        )


def _label(options: list[dict[str, str]], answer: str) -> str:
    return next((o["label"] for o in options if o["id"] == answer), answer)


@step("operation.ask")
async def _ask(
    ctx: StepContext,
    operation_id: str,
    prompt_id: str,
    message: str,
    options: list[dict[str, str]],
    timeout_seconds: float,
) -> None:
    """Store the question (once) and wait for it: status `waiting`, unless the request
    answered it in advance."""
    async with ctx.database.session() as session:
        repository = OperationRepository(session)
        op_id = uuid.UUID(operation_id)
        operation = await repository.get(op_id)
        if operation is None or operation.status == "cancelled":
            raise OperationCancelled(operation_id)
        if await repository.prompt(op_id, prompt_id) is not None:
            return
        now = utc_now()
        preset = (operation.input.get("answers") or {}).get(prompt_id)
        answered = preset in {o["id"] for o in options}
        await repository.add_prompt(
            OperationPrompt(
                operation_id=op_id,
                prompt_id=prompt_id,
                message=message[:500],
                options=options,
                asked_at=now,
                expires_at=now + dt.timedelta(seconds=timeout_seconds),
                answer=preset if answered else None,
                answered_at=now if answered else None,
                answered_by=IN_ADVANCE if answered else None,
            )
        )
        if answered:
            note = f"{message} Answered in advance: {_label(options, str(preset))}"
        else:
            note = f"Waiting for an answer: {message}"
            await repository.set_status(
                op_id, only_from=("running",), status="waiting", message=message[:500]
            )
        await repository.add_event(
            OperationEvent(
                operation_id=op_id,
                progress=operation.progress,
                message=note[:500],
                step=f"prompt:{prompt_id}"[:80],
                status="running" if answered else "waiting",
            )
        )


@step("operation.await_answer")
async def _await_answer(ctx: StepContext, operation_id: str, prompt_id: str) -> dict[str, Any]:
    """Where the question stands: {answer}, {cancelled}, {timed_out} or {remaining} seconds."""
    async with ctx.database.session() as session:
        repository = OperationRepository(session)
        op_id = uuid.UUID(operation_id)
        operation = await repository.get(op_id)
        prompt = await repository.prompt(op_id, prompt_id)
        if operation is None or prompt is None or operation.status == "cancelled":
            return {"cancelled": True}
        if prompt.answered_at is None:
            remaining = (prompt.expires_at - utc_now()).total_seconds()
            if remaining > 0:
                return {"remaining": remaining}
            if await repository.close_prompt(prompt.id, answer=None, answered_by=TIMED_OUT):
                return {"timed_out": True, "asked_at": iso(prompt.asked_at)}
            await session.refresh(prompt)  # answered at the last moment: the answer counts
        if prompt.answer is None:
            return {"timed_out": True, "asked_at": iso(prompt.asked_at)}
        if operation.status == "waiting":
            label = _label(prompt.options, prompt.answer)
            await repository.set_status(
                op_id, only_from=("waiting",), status="running", message=f"Going on: {label}"
            )
            await repository.add_event(
                OperationEvent(
                    operation_id=op_id,
                    progress=operation.progress,
                    message=f"Answered by {prompt.answered_by}: {label}"[:500],
                    step=f"answer:{prompt_id}"[:80],
                    status="running",
                )
            )
        return {"answer": prompt.answer}


async def _note_executor(ctx: StepContext, operation_id: str) -> None:
    """Record which worker runs the operation. Not a step: it runs again whenever a worker
    starts or takes over the workflow, so the operation names the worker running it now."""
    try:
        async with ctx.database.session() as session:
            await OperationRepository(session).set_executor(
                uuid.UUID(operation_id), ctx.settings.executor_id
            )
    except Exception:  # only a label; the workflow goes on without it
        log.debug("could not record the executor", extra={"operation_id": operation_id})


def describe_error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, StellwerkError):
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.field:
            body["field"] = error.field
        return body
    return {"code": "internal_error", "message": f"{type(error).__name__}: {error}"}


@dataclass(frozen=True)
class OperationContext(StepContext):
    """An operation body's context: the step context of its workflow (steps take it as it
    is), and the operation it runs."""

    operation_id: str

    @classmethod
    def starting(cls, operation_id: str) -> OperationContext:
        base = workflow_context()
        return cls(base.settings, base.database, base.providers, operation_id)

    async def progress(self, percent: int, message: str, *, step: str | None = None) -> None:
        """Report progress; also the point where a cancelled operation stops."""
        await _progress(self, self.operation_id, percent, message, step)

    async def ask(
        self,
        prompt_id: str,
        message: str,
        options: list[Option],
        *,
        timeout_seconds: float | None = None,
    ) -> str:
        """Stop with a question until it is answered with one of `options` (their ids);
        returns the chosen id. No answer within `timeout_seconds` (default
        `STELLWERK_OPERATION_PROMPT_TIMEOUT_SECONDS`) fails the operation (`prompt_timeout`)."""
        timeout = timeout_seconds or self.settings.operation_prompt_timeout_seconds
        choices = [{"id": key, "label": label} for key, label in options]
        await _ask(self, self.operation_id, prompt_id, message, choices, timeout)
        while True:
            state = await _await_answer(self, self.operation_id, prompt_id)
            if state.get("cancelled"):
                raise OperationCancelled(self.operation_id)
            if "answer" in state:
                return str(state["answer"])
            if state.get("timed_out"):
                raise PromptTimedOut(
                    f"No answer within {timeout:g} s to the question: {message}",
                    extra={"prompt_id": prompt_id},
                )
            # Woken by an answer, a cancel, or the timeout; durable across restarts.
            await DBOS.recv_async(PROMPT_TOPIC, timeout_seconds=float(state["remaining"]) + 0.5)


def operation_workflow(kind: str, *, queue: str = DEFAULT_QUEUE) -> Callable[[Body], Workflow]:
    def decorate(body: Body) -> Workflow:
        async def run(operation_id: str) -> dict[str, Any]:
            # Where the operation's workflow starts, the one place it reaches the engine.
            ctx = OperationContext.starting(operation_id)
            await _note_executor(ctx, operation_id)
            try:
                operation_input = await _begin(ctx, operation_id)
                result = await body(ctx, operation_input)
            except OperationCancelled:
                return {"cancelled": True}
            except OperationDeclined as declined:
                await _finish(
                    ctx,
                    operation_id,
                    "cancelled",
                    None,
                    {"code": "declined", "message": declined.message},
                )
                return {"cancelled": True}
            except Exception as error:
                log.warning(
                    "operation failed",
                    extra={"operation_id": operation_id, "kind": kind, "error": str(error)},
                )
                await _finish(ctx, operation_id, "failed", None, describe_error(error))
                return {"failed": True}
            await _finish(ctx, operation_id, "completed", result, None)
            return result

        run.__name__ = run.__qualname__ = f"operation_{kind.replace('.', '_')}"
        workflow: Workflow = DBOS.workflow(name=f"operation.{kind}")(run)
        KINDS[kind] = OperationKind(name=kind, workflow=workflow, queue=queue)
        return workflow

    return decorate
