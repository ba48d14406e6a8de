"""All SQL for operations and their events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import paginate
from stellwerk.kit.time import utc_now
from stellwerk.models import Operation, OperationEvent, OperationPrompt


class OperationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def readable(principal: Principal) -> Select[Operation]:
        """The operations `principal` may see: a customer their own, the company every one."""
        statement = select(Operation)
        if principal.owner_filter is not None:
            statement = statement.where(Operation.owner_user_id == principal.owner_filter)
        return statement

    @staticmethod
    def cancellable(principal: Principal) -> Select[Operation]:
        """The operations `principal` may stop: their own; every one for admins."""
        statement = select(Operation)
        if not principal.is_admin:
            statement = statement.where(Operation.owner_user_id == principal.user_id)
        return statement

    async def get_readable(self, principal: Principal, operation_id: uuid.UUID) -> Operation | None:
        return await self.session.scalar(
            self.readable(principal).where(Operation.id == operation_id)
        )

    async def get_cancellable(
        self, principal: Principal, operation_id: uuid.UUID
    ) -> Operation | None:
        return await self.session.scalar(
            self.cancellable(principal).where(Operation.id == operation_id)
        )

    async def get(self, operation_id: uuid.UUID, *, for_update: bool = False) -> Operation | None:
        statement = select(Operation).where(Operation.id == operation_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def get_by_key(self, kind: str, idempotency_key: str) -> Operation | None:
        return await self.session.scalar(
            select(Operation).where(
                Operation.kind == kind, Operation.idempotency_key == idempotency_key
            )
        )

    async def unfinished(self, kind: str, target_type: str, target_id: str) -> Operation | None:
        """The oldest operation of `kind` on this target that has not finished."""
        return await self.session.scalar(
            select(Operation)
            .where(
                Operation.kind == kind,
                Operation.target_type == target_type,
                Operation.target_id == target_id,
                Operation.status.in_(("queued", "running", "waiting")),
            )
            .order_by(Operation.created_at)
            .limit(1)
        )

    async def recent(self, kinds: Sequence[str], limit: int) -> Sequence[Operation]:
        """The newest operations of these kinds."""
        rows = await self.session.scalars(
            select(Operation)
            .where(Operation.kind.in_(list(kinds)))
            .order_by(Operation.created_at.desc())
            .limit(limit)
        )
        return rows.all()

    async def add(self, operation: Operation) -> Operation:
        self.session.add(operation)
        await self.session.flush()
        return operation

    async def list(
        self,
        principal: Principal,
        *,
        offset: int,
        limit: int,
        kind: str | None = None,
        status: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
    ) -> tuple[Sequence[Operation], int]:
        conditions = []
        if kind:
            conditions.append(Operation.kind == kind)
        if status:
            conditions.append(Operation.status == status)
        if target_type:
            conditions.append(Operation.target_type == target_type)
        if target_id:
            conditions.append(Operation.target_id == target_id)
        statement = (
            self.readable(principal)
            .where(*conditions)
            .order_by(Operation.created_at.desc(), Operation.id)
        )
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def failed_since(
        self, principal: Principal, since: dt.datetime, *, limit: int
    ) -> tuple[Sequence[Operation], int]:
        """The operations `principal` may see that failed since `since`, newest first."""
        statement = (
            self.readable(principal)
            .where(Operation.status == "failed", Operation.created_at >= since)
            .order_by(Operation.created_at.desc(), Operation.id)
        )
        return await paginate(self.session, statement, offset=0, limit=limit)

    async def run_times(
        self, principal: Principal, *, since: dt.datetime, limit: int
    ) -> Sequence[tuple[str, dt.datetime, dt.datetime]]:
        """(kind, started, finished) of the newest completed operations since `since`."""
        statement = (
            self.readable(principal)
            .with_only_columns(Operation.kind, Operation.started_at, Operation.finished_at)
            .where(
                Operation.status == "completed",
                Operation.finished_at >= since,
                Operation.started_at.is_not(None),
            )
            .order_by(Operation.finished_at.desc())
            .limit(limit)
        )
        rows = await self.session.execute(statement)
        return [
            (kind, started, finished)
            for kind, started, finished in rows.all()
            if started is not None and finished is not None
        ]

    async def list_stale_queued(self, before: dt.datetime, limit: int = 100) -> Sequence[Operation]:
        rows = await self.session.scalars(
            select(Operation)
            .where(Operation.status == "queued", Operation.created_at < before)
            .order_by(Operation.created_at)
            .limit(limit)
        )
        return rows.all()

    async def events(self, operation_id: uuid.UUID, limit: int = 200) -> Sequence[OperationEvent]:
        rows = await self.session.scalars(
            select(OperationEvent)
            .where(OperationEvent.operation_id == operation_id)
            .order_by(OperationEvent.id)
            .limit(limit)
        )
        return rows.all()

    async def add_event(self, event: OperationEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def set_status(
        self, operation_id: uuid.UUID, *, only_from: Sequence[str], **values: object
    ) -> bool:
        """Move an operation on, but never out of a state it has already left."""
        result = await self.session.execute(
            update(Operation)
            .where(Operation.id == operation_id, Operation.status.in_(only_from))
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_executor(self, operation_id: uuid.UUID, executor_id: str) -> None:
        await self.session.execute(
            update(Operation)
            .where(
                Operation.id == operation_id,
                Operation.executor_id.is_distinct_from(executor_id),
            )
            .values(executor_id=executor_id)
        )

    # --- prompts ---------------------------------------------------------------------------

    async def prompt(self, operation_id: uuid.UUID, prompt_id: str) -> OperationPrompt | None:
        return await self.session.scalar(
            select(OperationPrompt).where(
                OperationPrompt.operation_id == operation_id,
                OperationPrompt.prompt_id == prompt_id,
            )
        )

    async def add_prompt(self, prompt: OperationPrompt) -> None:
        self.session.add(prompt)
        await self.session.flush()

    async def open_prompts(
        self, operation_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Sequence[OperationPrompt]]:
        """The unanswered questions of those operations that wait for an answer."""
        if not operation_ids:
            return {}
        rows = await self.session.scalars(
            select(OperationPrompt)
            .join(Operation, Operation.id == OperationPrompt.operation_id)
            .where(
                OperationPrompt.operation_id.in_(operation_ids),
                OperationPrompt.answered_at.is_(None),
                Operation.status == "waiting",
            )
            .order_by(OperationPrompt.id)
        )
        found: dict[uuid.UUID, Sequence[OperationPrompt]] = {}
        for prompt in rows.all():
            found[prompt.operation_id] = (*found.get(prompt.operation_id, ()), prompt)
        return found

    async def close_prompt(self, prompt_id: int, *, answer: str | None, answered_by: str) -> bool:
        """Record the answer (or, with None, that time ran out) unless the prompt is closed
        already: of an answer and a timeout at the same moment, exactly one wins."""
        now = utc_now()
        conditions = [OperationPrompt.id == prompt_id, OperationPrompt.answered_at.is_(None)]
        if answer is not None:
            conditions.append(OperationPrompt.expires_at > now)
        result = await self.session.execute(
            update(OperationPrompt)
            .where(*conditions)
            .values(answer=answer, answered_at=now, answered_by=answered_by[:200])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def answered_while_waiting(
        self, before: dt.datetime, limit: int = 100
    ) -> Sequence[OperationPrompt]:
        """Answers the workflow has not picked up yet (their wake-up may have been lost)."""
        rows = await self.session.scalars(
            select(OperationPrompt)
            .join(Operation, Operation.id == OperationPrompt.operation_id)
            .where(
                Operation.status == "waiting",
                OperationPrompt.answer.is_not(None),
                OperationPrompt.answered_at < before,
            )
            .order_by(OperationPrompt.answered_at)
            .limit(limit)
        )
        return rows.all()
