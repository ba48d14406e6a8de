"""HTTP for operations: status, progress, history, cancel; and the engine probe."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from stellwerk.database import SessionDep
from stellwerk.exceptions import ValidationFailed
from stellwerk.identity.auth import AdminUser, Authenticated
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.models import Operation
from stellwerk.operation import probe
from stellwerk.operation.schemas import (
    AnswerRequest,
    OperationDetail,
    OperationEventRead,
    OperationRead,
    ProbeRequest,
    PromptRead,
)
from stellwerk.operation.service import duration, timeline
from stellwerk.operation.service import operation as operation_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["operations"], responses=error_responses(Surface.GENERIC))


async def _reads(
    session: SessionDep, principal: Principal, operations: list[Operation]
) -> list[OperationRead]:
    """The operations with the questions the waiting ones ask; which worker runs each only for
    the company's own people."""
    prompts = await operation_service.open_prompts(session, operations)
    reads = []
    for operation in operations:
        read = OperationRead.model_validate(operation)
        read.prompts = [PromptRead.model_validate(p) for p in prompts.get(operation.id, [])]
        if not principal.is_company:
            read.executor_id = None
        reads.append(read)
    return reads


@router.get("/api/operations", response_model=Page[OperationRead])
async def list_operations(
    subject: Authenticated,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    kind: Annotated[str | None, Query(max_length=60)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[OperationRead]:
    """Operations, newest first: yours (a customer's), or everyone's for staff and admins."""
    operations, total = await operation_service.list(
        session,
        subject.principal,
        params=params,
        kind=kind,
        status=status,
        target_type=target_type,
        target_id=target_id,
    )
    return Page.of(
        await _reads(session, subject.principal, list(operations)), total=total, params=params
    )


@router.get("/api/operations/{operation_id}", response_model=OperationDetail)
async def get_operation(
    operation_id: uuid.UUID, subject: Authenticated, session: SessionDep
) -> OperationDetail:
    """Status, progress 0-100, message, result or error, the questions it waits on, and the
    history of events."""
    operation = await operation_service.get(session, subject.principal, operation_id)
    events = await operation_service.events(session, operation)
    (read,) = await _reads(session, subject.principal, [operation])
    return OperationDetail(
        **read.model_dump(),
        events=[OperationEventRead.model_validate(e) for e in timeline(operation, events)],
        duration_seconds=duration(operation),
    )


@router.post("/api/operations/{operation_id}/cancel", response_model=OperationRead)
async def cancel_operation(
    operation_id: uuid.UUID, subject: Authenticated, session: SessionDep
) -> OperationRead:
    """Stop a queued or running operation at its next step: your own (any, for admins)."""
    operation = await operation_service.get_cancellable(session, subject.principal, operation_id)
    return OperationRead.model_validate(
        await operation_service.cancel(session, subject.actor, operation)
    )


@router.post("/api/operations/{operation_id}/answer", response_model=OperationRead)
async def answer_operation(
    operation_id: uuid.UUID, body: AnswerRequest, subject: Authenticated, session: SessionDep
) -> OperationRead:
    """Answer the question a `waiting` operation asks (`prompts`): your own operation's (any,
    for admins). It goes on once the answer is stored; a question left unanswered until its
    `expires_at` fails the operation."""
    operation = await operation_service.get_cancellable(session, subject.principal, operation_id)
    await operation_service.answer(
        session, subject.actor, operation, answer=body.answer, prompt_id=body.prompt_id
    )
    await session.refresh(operation)
    (read,) = await _reads(session, subject.principal, [operation])
    return read


@router.post(
    "/api/operations/probe", response_model=OperationRead, status_code=status.HTTP_202_ACCEPTED
)
async def start_probe(
    body: ProbeRequest, subject: AdminUser, session: SessionDep, response: Response
) -> OperationRead:
    """Start the engine probe (N short steps). The same idempotency key returns the same run."""
    if not 1 <= body.steps <= probe.MAX_STEPS:
        raise ValidationFailed(f"steps is 1-{probe.MAX_STEPS}", field="steps")
    if not 0 <= body.seconds <= probe.MAX_SECONDS:
        raise ValidationFailed(f"seconds is 0-{probe.MAX_SECONDS}", field="seconds")
    operation, created = await operation_service.start(
        session,
        subject.actor,
        kind=probe.KIND,
        input={
            "steps": body.steps,
            "seconds": body.seconds,
            "ask": body.ask,
            "ask_timeout_seconds": body.ask_timeout_seconds,
            "answers": body.answers or {},
        },
        idempotency_key=body.idempotency_key,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return OperationRead.model_validate(operation)
