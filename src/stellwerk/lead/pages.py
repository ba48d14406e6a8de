"""The leads CRM's pages (server-rendered): overview, create, edit, delete, CSV export/import."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError
from stellwerk.kit.pagination import Page
from stellwerk.lead.schemas import INSTITUTION_TYPES, LEAD_STATUSES, InstitutionCreate
from stellwerk.lead.service import lead as lead_service
from stellwerk.models import LeadInstitution
from stellwerk.web.auth import WebAdmin
from stellwerk.web.forms import field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(prefix="/leads", include_in_schema=False)

MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "name": text(form, "name"),
        "type": text(form, "type") or "other",
        "status": text(form, "status") or "new",
        "website": text(form, "website") or None,
    }


def _validate(values: dict[str, Any]) -> tuple[InstitutionCreate | None, dict[str, str]]:
    try:
        return InstitutionCreate.model_validate(values), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "_"
            errors.setdefault(field, str(item["msg"]))
        return None, errors


def _form_page(
    request: Request,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    lead: LeadInstitution | None = None,
    contacts: Any = (),
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "leads/form.html",
        {
            "lead": lead,
            "values": values,
            "errors": errors,
            "contacts": contacts,
            "types": INSTITUTION_TYPES,
            "statuses": LEAD_STATUSES,
        },
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request, _: WebAdmin, session: SessionDep, page: int = 1, search: str = ""
) -> Response:
    params = page_params(page)
    rows, total = await lead_service.institutions(
        session, search=search[:200] or None, params=params
    )
    base = f"/leads/?search={quote(search)}" if search else "/leads/"
    return render(
        request,
        "leads/index.html",
        {
            "rows": rows,
            "page": Page.of(list(rows), total=total, params=params),
            "base": base,
            "search": search,
            "stats": await lead_service.stats(session),
        },
    )


@router.get("/create", response_class=HTMLResponse)
async def create_form(request: Request, _: WebAdmin) -> Response:
    return _form_page(request, values={"type": "other", "status": "new"}, errors={})


@router.post("/create", response_class=HTMLResponse)
async def create(request: Request, subject: WebAdmin, session: SessionDep) -> Response:
    values = _form_values(await read_form(request))
    checked, errors = _validate(values)
    if checked is None:
        return _form_page(request, values=values, errors=errors, status_code=422)
    try:
        created = await lead_service.create_institution(
            session,
            subject.actor,
            name=checked.name,
            institution_type=checked.type,
            status=checked.status,
            website=checked.website,
        )
    except StellwerkError as error:
        errors = field_errors(error) if error.field else {"name": error.message}
        return _form_page(request, values=values, errors=errors, status_code=error.status)
    response = RedirectResponse(f"/leads/edit/{created.id}", status_code=303)
    flash(response, f"Lead {created.name} created")
    return response


@router.get("/edit/{lead_id:int}", response_class=HTMLResponse)
async def edit_form(request: Request, lead_id: int, _: WebAdmin, session: SessionDep) -> Response:
    found = await lead_service.institution(session, lead_id)
    contacts, _total = await lead_service.contacts(
        session, search=None, institution_id=found.id, params=page_params(1, 200)
    )
    values = {
        "name": found.name,
        "type": found.institution_type,
        "status": found.status,
        "website": found.website,
    }
    return _form_page(request, values=values, errors={}, lead=found, contacts=contacts)


@router.post("/update/{lead_id:int}", response_class=HTMLResponse)
async def update(
    request: Request, lead_id: int, subject: WebAdmin, session: SessionDep
) -> Response:
    found = await lead_service.institution(session, lead_id)
    values = _form_values(await read_form(request))
    checked, errors = _validate(values)
    if checked is None:
        return _form_page(request, values=values, errors=errors, lead=found, status_code=422)
    try:
        await lead_service.update_institution(
            session,
            subject.actor,
            found,
            changes={
                "name": checked.name,
                "type": checked.type,
                "status": checked.status,
                "website": checked.website,
            },
        )
    except StellwerkError as error:
        errors = field_errors(error) if error.field else {"name": error.message}
        return _form_page(
            request, values=values, errors=errors, lead=found, status_code=error.status
        )
    response = RedirectResponse(f"/leads/edit/{lead_id}", status_code=303)
    flash(response, "Lead saved")
    return response


@router.post("/delete/{lead_id:int}")
async def delete(lead_id: int, subject: WebAdmin, session: SessionDep) -> Response:
    found = await lead_service.institution(session, lead_id)
    await lead_service.delete_institution(session, subject.actor, found)
    response = RedirectResponse("/leads/", status_code=303)
    flash(response, f"Lead {found.name} deleted")
    return response


@router.get("/export")
async def export(_: WebAdmin, session: SessionDep) -> Response:
    return Response(
        await lead_service.export_csv(session),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@router.post("/import", response_class=HTMLResponse)
async def import_leads(request: Request, subject: WebAdmin, session: SessionDep) -> Response:
    """Import leads from CSV (columns name, type, status, website); bad rows are listed."""
    form = await read_form(request)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return render(
            request, "leads/import.html", {"error": "Choose a CSV file to import"}, status_code=400
        )
    content = await upload.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        return render(
            request, "leads/import.html", {"error": "The file is larger than 5 MB"}, status_code=413
        )
    try:
        report = await lead_service.import_csv(session, subject.actor, content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return render(
            request, "leads/import.html", {"error": "The file is not UTF-8 text"}, status_code=400
        )
    except StellwerkError as error:
        return render(
            request, "leads/import.html", {"error": error.message}, status_code=error.status
        )
    return render(request, "leads/import.html", {"report": report})
