"""Starting, reading, cancelling operations.

An operation row is written in the caller's transaction; its workflow is enqueued only after that
transaction commits. A process that dies in between leaves a `queued` row, which `sweep()` enqueues
later (with the same workflow id, so nothing runs twice).
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, SetWorkflowID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.database import Database, after_commit
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import utc_now
from stellwerk.models import Operation, OperationEvent, OperationPrompt
from stellwerk.operation import engine
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.workflow import ACTIVE, FINISHED, KINDS, PROMPT_TOPIC

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "waiting", "completed", "failed", "cancelled")


class NotWaiting(Conflict):
    default_code = "not_waiting"


async def wake(operation_id: uuid.UUID, reason: str) -> None:
    """Wake a waiting workflow to look at its question again (best effort: the sweep repeats
    it for answers the workflow has not picked up; the same reason sends once)."""
    try:
        await engine.send(
            str(operation_id),
            {"reason": reason},
            topic=PROMPT_TOPIC,
            idempotency_key=f"{operation_id}:{reason}",
        )
    except Exception:
        log.warning("could not wake a waiting operation", extra={"operation_id": str(operation_id)})


async def enqueue(operation_id: uuid.UUID, kind: str, queue: str | None = None) -> None:
    """Hand the operation to the workflow engine (on `queue`, else its kind's); a no-op if it
    is already there."""
    definition = KINDS[kind]
    queue_name = queue or definition.queue
    local = await DBOS.retrieve_queue_async(queue_name) if engine.is_launched() else None
    if local is None:  # no engine here, or another host's queue: through the shared tables
        try:
            await engine.enqueue_from_outside(
                workflow_name=definition.workflow_name,
                queue_name=queue_name,
                workflow_id=str(operation_id),
                args=(str(operation_id),),
            )
        except Exception:  # no worker has set the engine up yet: the sweep enqueues it later
            log.warning(
                "could not enqueue; a worker will", extra={"operation_id": str(operation_id)}
            )
        return
    with SetWorkflowID(str(operation_id)):
        await local.enqueue_async(definition.workflow, str(operation_id))


@dataclass(frozen=True)
class TimelineEntry:
    """One event of an operation with its place in time: seconds from the operation's
    creation, and how long the operation stayed there (until the next event)."""

    at: dt.datetime
    progress: int
    message: str
    step: str | None
    status: str | None
    offset_seconds: float
    seconds: float | None


def timeline(
    operation: Operation, events: Sequence[OperationEvent], *, now: dt.datetime | None = None
) -> list[TimelineEntry]:
    now = now or utc_now()
    entries: list[TimelineEntry] = []
    for index, event in enumerate(events):
        if index + 1 < len(events):
            until: dt.datetime | None = events[index + 1].at
        elif operation.status in FINISHED:
            until = None
        else:
            until = now
        entries.append(
            TimelineEntry(
                at=event.at,
                progress=event.progress,
                message=event.message,
                step=event.step,
                status=event.status,
                offset_seconds=round(
                    max(0.0, (event.at - operation.created_at).total_seconds()), 3
                ),
                seconds=None
                if until is None
                else round(max(0.0, (until - event.at).total_seconds()), 3),
            )
        )
    return entries


def duration(operation: Operation, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from start to finish (to now while it runs); None before it started."""
    if operation.started_at is None:
        return None
    end = operation.finished_at or now or utc_now()
    return round(max(0.0, (end - operation.started_at).total_seconds()), 3)


class OperationService:
    async def start(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        kind: str,
        input: dict[str, Any],
        idempotency_key: str | None = None,
        target_type: str | None = None,
        target_id: object = None,
        message: str = "Queued",
        host: str | None = None,
        queue: str | None = None,
    ) -> tuple[Operation, bool]:
        """Start an operation, or return the one already started with this idempotency key;
        with `host`, only a worker on that host runs it; with `queue`, only a worker listening
        on that queue (else its kind's).

        Returns the operation and whether it was created now.
        """
        if kind not in KINDS:
            raise ValidationFailed(f"Unknown operation kind {kind}", field="kind")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise ValidationFailed(
                "An idempotency key is 1-200 characters", field="idempotency_key"
            )
        repository = OperationRepository(session)
        if idempotency_key:
            existing = await repository.get_by_key(kind, idempotency_key)
            if existing is not None:
                return existing, False
        operation_id = uuid.uuid4()
        operation = Operation(
            id=operation_id,
            kind=kind,
            idempotency_key=idempotency_key or str(operation_id),
            owner_user_id=actor.user_id,
            status="queued",
            progress=0,
            message=message,
            input=input,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            queue=queue or (None if host is None else engine.host_queue(host)),
        )
        try:
            async with session.begin_nested():
                await repository.add(operation)
        except IntegrityError:
            # Another request with the same key won the race.
            existing = await repository.get_by_key(kind, idempotency_key or "")
            if existing is None:
                raise
            return existing, False
        await repository.add_event(
            OperationEvent(
                operation_id=operation_id,
                progress=0,
                message=message,
                step="queued",
                status="queued",
            )
        )
        await audit.record(
            session,
            actor,
            "operation.start",
            target_type="operation",
            target_id=operation_id,
            detail={"kind": kind, "target_type": target_type, "target_id": operation.target_id},
        )

        async def _enqueue() -> None:
            await enqueue(operation_id, kind, operation.queue)

        after_commit(session, _enqueue)
        return operation, True

    async def get(
        self, session: AsyncSession, principal: Principal, operation_id: uuid.UUID
    ) -> Operation:
        """An operation `principal` may see."""
        operation = await OperationRepository(session).get_readable(principal, operation_id)
        if operation is None:
            raise NotFound(f"No operation with id {operation_id}")
        return operation

    async def get_cancellable(
        self, session: AsyncSession, principal: Principal, operation_id: uuid.UUID
    ) -> Operation:
        """An operation `principal` may stop (see `OperationRepository.cancellable`)."""
        operation = await OperationRepository(session).get_cancellable(principal, operation_id)
        if operation is None:
            raise NotFound(f"No operation with id {operation_id}")
        return operation

    async def events(self, session: AsyncSession, operation: Operation) -> Sequence[OperationEvent]:
        return await OperationRepository(session).events(operation.id)

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        params: PageParams,
        kind: str | None = None,
        status: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
    ) -> tuple[Sequence[Operation], int]:
        if status is not None and status not in STATUSES:
            raise ValidationFailed(f"The status is one of {', '.join(STATUSES)}", field="status")
        return await OperationRepository(session).list(
            principal,
            offset=params.offset,
            limit=params.per_page,
            kind=kind,
            status=status,
            target_type=target_type,
            target_id=target_id,
        )

    async def median_durations(
        self, session: AsyncSession, principal: Principal, *, days: int = 30
    ) -> Sequence[tuple[str, float, int]]:
        """(kind, median seconds, how many) of completed operations, slowest kind first."""
        rows = await OperationRepository(session).run_times(
            principal, since=utc_now() - dt.timedelta(days=days), limit=5000
        )
        seconds: dict[str, list[float]] = {}
        for kind, started, finished in rows:
            seconds.setdefault(kind, []).append(max(0.0, (finished - started).total_seconds()))
        medians = [
            (kind, statistics.median(values), len(values)) for kind, values in seconds.items()
        ]
        return sorted(medians, key=lambda row: row[1], reverse=True)

    async def open_prompts(
        self, session: AsyncSession, operations: Sequence[Operation]
    ) -> dict[uuid.UUID, Sequence[OperationPrompt]]:
        """The questions each waiting operation among `operations` asks now."""
        waiting = [o.id for o in operations if o.status == "waiting"]
        return await OperationRepository(session).open_prompts(waiting)

    async def answer(
        self,
        session: AsyncSession,
        actor: Actor,
        operation: Operation,
        *,
        answer: str,
        prompt_id: str | None = None,
    ) -> OperationPrompt:
        """Answer the question `operation` waits on; the workflow goes on once this commits.
        `prompt_id` may be left out while exactly one question is open."""
        if operation.status != "waiting":
            raise NotWaiting(
                f"The operation is {operation.status}, not waiting for an answer",
                extra={"status": operation.status},
            )
        repository = OperationRepository(session)
        prompts: Sequence[OperationPrompt] = (await repository.open_prompts([operation.id])).get(
            operation.id, ()
        )
        prompt: OperationPrompt
        if prompt_id is None:
            if len(prompts) != 1:
                raise ValidationFailed(
                    "Name the question to answer with prompt_id", field="prompt_id"
                )
            prompt = prompts[0]
        else:
            found = next((p for p in prompts if p.prompt_id == prompt_id), None)
            if found is None:
                raise NotFound(
                    f"The operation asks no open question {prompt_id}",
                    code="prompt_not_found",
                    field="prompt_id",
                )
            prompt = found
        choices = [str(o["id"]) for o in prompt.options]
        if answer not in choices:
            raise ValidationFailed(
                f"The answer is one of: {', '.join(choices)}",
                field="answer",
                code="invalid_answer",
                extra={"options": choices},
            )
        if not await repository.close_prompt(prompt.id, answer=answer, answered_by=actor.name):
            raise Conflict(
                "The question was answered already or its time ran out", code="prompt_closed"
            )
        await session.refresh(prompt)
        label = next((str(o["label"]) for o in prompt.options if o["id"] == answer), answer)
        await audit.record(
            session,
            actor,
            "operation.answer",
            target_type="operation",
            target_id=operation.id,
            detail={"prompt_id": prompt.prompt_id, "answer": answer},
        )

        async def _wake() -> None:
            await wake(operation.id, f"answer:{prompt.prompt_id}")

        after_commit(session, _wake)
        log.info(
            "operation question answered",
            extra={
                "operation_id": str(operation.id),
                "prompt_id": prompt.prompt_id,
                "label": label,
            },
        )
        return prompt

    async def cancel(self, session: AsyncSession, actor: Actor, operation: Operation) -> Operation:
        if operation.status in FINISHED:
            raise Conflict(
                f"The operation has already {operation.status}", code="operation_finished"
            )
        now = utc_now()
        was_waiting = operation.status == "waiting"
        await OperationRepository(session).set_status(
            operation.id,
            only_from=ACTIVE,
            status="cancelled",
            message="Cancelled",
            finished_at=now,
        )
        await OperationRepository(session).add_event(
            OperationEvent(
                operation_id=operation.id,
                progress=operation.progress,
                message=f"Cancelled by {actor.name}",
                step="cancel",
                status="cancelled",
            )
        )
        await audit.record(
            session, actor, "operation.cancel", target_type="operation", target_id=operation.id
        )
        await session.refresh(operation)

        async def _stop() -> None:
            if was_waiting:
                await wake(operation.id, "cancel")
            await engine.cancel(str(operation.id))

        after_commit(session, _stop)
        return operation


async def sweep(database: Database, *, older_than: float = 2.0) -> int:
    """Enqueue operations whose start committed but never reached the engine."""
    before = utc_now() - dt.timedelta(seconds=older_than)
    async with database.session() as session:
        stale = await OperationRepository(session).list_stale_queued(before)
    count = 0
    for operation in stale:
        if operation.kind not in KINDS:
            continue
        status = await DBOS.get_workflow_status_async(str(operation.id))
        if status is None:
            await enqueue(operation.id, operation.kind, operation.queue)
            count += 1
    if count:
        log.info("enqueued stranded operations", extra={"count": count})
    async with database.session() as session:
        answered = await OperationRepository(session).answered_while_waiting(before)
    for prompt in answered:  # the wake-up after the answer may have been lost
        await wake(prompt.operation_id, f"answer:{prompt.prompt_id}")
    return count


operation = OperationService()
