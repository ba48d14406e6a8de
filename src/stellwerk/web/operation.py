"""Pages for operations: the list, and one operation with its live progress."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.auth import AuthSubject
from stellwerk.kit.pagination import Page
from stellwerk.models import Operation
from stellwerk.operation.service import STATUSES, duration, timeline
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED, KINDS
from stellwerk.web.auth import WebUser
from stellwerk.web.charts import bar_list
from stellwerk.web.forms import page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(include_in_schema=False)


@router.get("/ui/operations", response_class=HTMLResponse)
async def operations(
    request: Request,
    subject: WebUser,
    session: SessionDep,
    page: int = 1,
    kind: str | None = None,
    status: str | None = None,
) -> Response:
    params = page_params(page)
    kind = kind or None
    status = status if status in STATUSES else None
    rows, total = await operation_service.list(
        session,
        subject.principal,
        params=params,
        kind=kind,
        status=status,
    )
    query = "&".join(f"{k}={v}" for k, v in (("kind", kind), ("status", status)) if v)
    durations = await operation_service.median_durations(session, subject.principal)
    return render(
        request,
        "operation/list.html",
        {
            "operations": rows,
            "page": Page.of(rows, total=total, params=params),
            "kinds": sorted(KINDS),
            "statuses": STATUSES,
            "kind": kind,
            "status": status,
            "base": "/ui/operations" + (f"?{query}" if query else ""),
            "durations_chart": bar_list(
                [(f"{kind} ({runs}×)", round(seconds, 1)) for kind, seconds, runs in durations],
                title="Median duration of completed operations, last 30 days",
                unit="seconds",
            ),
        },
    )


async def _context(
    session: SessionDep, subject: AuthSubject, operation: Operation
) -> dict[str, Any]:
    """An operation with its history and the questions it waits on (answerable by whoever
    started it, or an admin)."""
    prompts = await operation_service.open_prompts(session, [operation])
    mine = subject.principal.is_admin or operation.owner_user_id == subject.user.id
    return {
        "operation": operation,
        "events": timeline(operation, await operation_service.events(session, operation)),
        "duration": duration(operation),
        "finished": operation.status in FINISHED,
        "prompts": prompts.get(operation.id, ()),
        "answer_url": f"/ui/operations/{operation.id}/answer" if mine else None,
        # Which worker runs it: for the company's staff, never for customers.
        "executor": operation.executor_id if subject.principal.is_company else None,
    }


@router.get("/ui/operations/{operation_id}", response_class=HTMLResponse)
async def operation_detail(
    operation_id: uuid.UUID, request: Request, subject: WebUser, session: SessionDep
) -> Response:
    operation = await operation_service.get(session, subject.principal, operation_id)
    return render(request, "operation/detail.html", await _context(session, subject, operation))


@router.get("/ui/operations/{operation_id}/progress", response_class=HTMLResponse)
async def operation_progress(
    operation_id: uuid.UUID, request: Request, subject: WebUser, session: SessionDep
) -> Response:
    """The live part of the detail page, fetched again every second until it is final."""
    operation = await operation_service.get(session, subject.principal, operation_id)
    return render(request, "operation/_progress.html", await _context(session, subject, operation))


@router.post("/ui/operations/{operation_id}/cancel")
async def cancel_operation(
    operation_id: uuid.UUID, subject: WebUser, session: SessionDep
) -> Response:
    operation = await operation_service.get_cancellable(session, subject.principal, operation_id)
    response = RedirectResponse(f"/ui/operations/{operation_id}", status_code=303)
    try:
        await operation_service.cancel(session, subject.actor, operation)
    except StellwerkError as error:
        flash(response, error.message)
        return response
    flash(response, "The operation is cancelled.")
    return response


@router.post("/ui/operations/{operation_id}/answer")
async def answer_operation(
    operation_id: uuid.UUID, request: Request, subject: WebUser, session: SessionDep
) -> Response:
    """Answer the question a waiting operation asks (your own, or any for admins)."""
    operation = await operation_service.get_cancellable(session, subject.principal, operation_id)
    form = await read_form(request)
    response = RedirectResponse(f"/ui/operations/{operation_id}", status_code=303)
    try:
        await operation_service.answer(
            session,
            subject.actor,
            operation,
            answer=text(form, "answer"),
            prompt_id=text(form, "prompt_id") or None,
        )
    except StellwerkError as error:
        flash(response, f"Not answered: {error.message}")
        return response
    flash(response, "Answered; the operation goes on.")
    return response
