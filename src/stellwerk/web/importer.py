"""The Import page: the sources Stellwerk imports from, their commands, past imports, and a form
that starts an import of what lies on the server (a file, a directory, a database URL): first a
dry run whose report is shown, then the same import applied."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stellwerk.audit.service import audit
from stellwerk.database import SessionDep
from stellwerk.exceptions import NotFound, StellwerkError
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.importer import service as imports
from stellwerk.importer.sources import SOURCES
from stellwerk.kit.pagination import Page
from stellwerk.models import Operation
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED
from stellwerk.web.auth import WebAdmin
from stellwerk.web.forms import field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(include_in_schema=False)

# The form's optional fields, by source.
EXTRAS = ("owner", "mapping", "secret", "jwt_secret", "instances", "passphrase")
STARTABLE = tuple(s for s in SOURCES if s.name in imports.SOURCES)


async def _page(
    request: Request,
    session: SessionDep,
    page: int = 1,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = page_params(page, per_page=25)
    events, total = await audit.list(session, params=params, action="import.")
    return render(
        request,
        "import/list.html",
        {
            "sources": SOURCES,
            "startable": STARTABLE,
            "events": events,
            "runs": await imports.recent(session),
            "page": Page.of(events, total=total, params=params),
            "base": "/ui/import",
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/import", response_class=HTMLResponse)
async def import_page(
    request: Request, _: WebAdmin, session: SessionDep, page: int = 1
) -> Response:
    return await _page(request, session, page)


@router.post("/ui/import")
async def start_dry_run(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Start the dry run of an import; its page shows the report and offers to apply it."""
    form = await read_form(request)
    source = text(form, "source")
    # Secrets are never sent back into the form.
    values = {"source": source, "location": text(form, "location")}
    values.update({n: text(form, n) for n in ("owner", "mapping", "instances")})
    try:
        parameters = imports.parameters_for(
            source,
            location=text(form, "location"),
            extra={name: text(form, name) for name in EXTRAS},
            sandboxes=runtime.sandboxes,
        )
        operation, _ = await imports.start(
            session,
            runtime.settings,
            subject.actor,
            source=source,
            parameters=parameters,
            dry_run=True,
        )
    except StellwerkError as error:
        errors = field_errors(error) or {"_": error.message}
        return await _page(request, session, values=values, errors=errors, status_code=422)
    return _run_page(operation, "Dry run started: nothing is changed.")


def _run_page(operation: Operation, message: str) -> Response:
    response = RedirectResponse(f"/ui/import/runs/{operation.id}", status_code=303)
    flash(response, message)
    return response


async def _run(session: SessionDep, subject: AuthSubject, operation_id: uuid.UUID) -> Operation:
    operation = await operation_service.get(session, subject.principal, operation_id)
    if not operation.kind.startswith("import."):
        raise NotFound(f"No import with id {operation_id}")
    return operation


def _context(operation: Operation) -> dict[str, Any]:
    result = dict(operation.result or {})
    counts, notable = imports.summary(result) if result else ({}, [])
    dry_run = bool(operation.input.get("dry_run"))
    return {
        "operation": operation,
        "source": operation.input.get("source"),
        "dry_run": dry_run,
        "finished": operation.status in FINISHED,
        "counts": counts,
        "notable": notable,
        "changes": result.get("changes"),
        "can_apply": dry_run and operation.status == "completed",
    }


@router.get("/ui/import/runs/{operation_id}", response_class=HTMLResponse)
async def import_run(
    operation_id: uuid.UUID, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    operation = await _run(session, subject, operation_id)
    return render(request, "import/run.html", _context(operation))


@router.get("/ui/import/runs/{operation_id}/status", response_class=HTMLResponse)
async def import_run_status(
    operation_id: uuid.UUID, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    """The live part of the run's page, fetched again until the run is over."""
    operation = await _run(session, subject, operation_id)
    return render(request, "import/_run.html", _context(operation))


@router.post("/ui/import/runs/{operation_id}/apply")
async def apply_import(
    operation_id: uuid.UUID, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Apply what a completed dry run reported: the same import, with the same parameters."""
    dry = await _run(session, subject, operation_id)
    if not dry.input.get("dry_run") or dry.status != "completed":
        response = RedirectResponse(f"/ui/import/runs/{dry.id}", status_code=303)
        flash(response, "Only a completed dry run can be applied.")
        return response
    try:
        operation, _ = await imports.start(
            session,
            runtime.settings,
            subject.actor,
            source=str(dry.input["source"]),
            parameters=imports.open_parameters(runtime.settings, dry.input),
            dry_run=False,
        )
    except StellwerkError as error:
        response = RedirectResponse(f"/ui/import/runs/{dry.id}", status_code=303)
        flash(response, f"Not started: {error.message}")
        return response
    return _run_page(operation, "Import started.")
