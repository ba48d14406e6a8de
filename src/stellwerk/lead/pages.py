"""The leads CRM's pages (server-rendered): overview, create, edit, delete, CSV export/import,
and an institution's contacts and notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.kit.pagination import Page
from stellwerk.lead.csvfiles import lead_files
from stellwerk.lead.schemas import (
    INSTITUTION_TYPES,
    LEAD_STATUSES,
    ContactCreate,
    ContactUpdate,
    DetailCreate,
    InstitutionCreate,
    NoteCreate,
)
from stellwerk.lead.service import ContactView
from stellwerk.lead.service import lead as lead_service
from stellwerk.models import LeadInstitution
from stellwerk.web import reveal
from stellwerk.web.auth import WebAccess
from stellwerk.web.forms import field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

WebLeadsReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:leads"))]
WebLeadsWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:leads"))]

router = APIRouter(prefix="/leads", include_in_schema=False)

MAX_IMPORT_BYTES = 5 * 1024 * 1024
IMPORT_REPORT = "lead-import"
IMPORT_ROWS_SHOWN = 20  # rejected rows listed after an import (all are counted)
CONTACT_FIELDS = ("first_name", "last_name", "position", "email", "phone")


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "name": text(form, "name"),
        "type": text(form, "type") or "other",
        "status": text(form, "status") or "new",
        "website": text(form, "website") or None,
    }


def _errors(error: ValidationError, prefix: str = "") -> dict[str, str]:
    """Pydantic's complaints by field; `prefix` tells the forms of one page apart."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "_"
        errors.setdefault(f"{prefix}{field}", str(item["msg"]))
    return errors


def _validate(values: dict[str, Any]) -> tuple[InstitutionCreate | None, dict[str, str]]:
    try:
        return InstitutionCreate.model_validate(values), {}
    except ValidationError as error:
        return None, _errors(error)


def _form_page(
    request: Request,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    lead: LeadInstitution | None = None,
    contacts: Sequence[ContactView] = (),
    forms: dict[str, dict[str, str]] | None = None,
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
            "forms": forms or {},
            "types": INSTITUTION_TYPES,
            "statuses": LEAD_STATUSES,
        },
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request, _: WebLeadsReader, session: SessionDep, page: int = 1, search: str = ""
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
async def create_form(request: Request, _: WebLeadsReader) -> Response:
    return _form_page(request, values={"type": "other", "status": "new"}, errors={})


@router.post("/create", response_class=HTMLResponse)
async def create(request: Request, subject: WebLeadsWriter, session: SessionDep) -> Response:
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


async def _contact_views(session: SessionDep, institution_id: int) -> list[ContactView]:
    contacts, _total = await lead_service.contacts(
        session, search=None, institution_id=institution_id, params=page_params(1, 200)
    )
    return [await lead_service.contact_view(session, c.id) for c in contacts]


async def _lead_page(
    request: Request,
    session: SessionDep,
    found: LeadInstitution,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    """The institution's page with its contacts and notes; a form's errors shown in place."""
    values = {
        "name": found.name,
        "type": found.institution_type,
        "status": found.status,
        "website": found.website,
    }
    return _form_page(
        request,
        values=values,
        errors=errors or {},
        lead=found,
        contacts=await _contact_views(session, found.id),
        forms=forms,
        status_code=status_code,
    )


def _back_to(lead_id: int, message: str, anchor: str = "") -> Response:
    response = RedirectResponse(f"/leads/edit/{lead_id}{anchor}", status_code=303)
    flash(response, message)
    return response


@router.get("/edit/{lead_id:int}", response_class=HTMLResponse)
async def edit_form(
    request: Request, lead_id: int, _: WebLeadsReader, session: SessionDep
) -> Response:
    found = await lead_service.institution(session, lead_id)
    return await _lead_page(request, session, found)


@router.post("/update/{lead_id:int}", response_class=HTMLResponse)
async def update(
    request: Request, lead_id: int, subject: WebLeadsWriter, session: SessionDep
) -> Response:
    found = await lead_service.institution(session, lead_id)
    values = _form_values(await read_form(request))
    checked, errors = _validate(values)
    if checked is None:
        return _form_page(
            request,
            values=values,
            errors=errors,
            lead=found,
            contacts=await _contact_views(session, found.id),
            status_code=422,
        )
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
            request,
            values=values,
            errors=errors,
            lead=found,
            contacts=await _contact_views(session, found.id),
            status_code=error.status,
        )
    response = RedirectResponse(f"/leads/edit/{lead_id}", status_code=303)
    flash(response, "Lead saved")
    return response


@router.post("/delete/{lead_id:int}")
async def delete(lead_id: int, subject: WebLeadsWriter, session: SessionDep) -> Response:
    found = await lead_service.institution(session, lead_id)
    await lead_service.delete_institution(session, subject.actor, found)
    response = RedirectResponse("/leads/", status_code=303)
    flash(response, f"Lead {found.name} deleted")
    return response


@router.get("/export")
async def export(_: WebLeadsReader, session: SessionDep) -> Response:
    return Response(
        await lead_files.export_csv(session),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@router.post("/import", response_class=HTMLResponse)
async def import_leads(
    request: Request, subject: WebLeadsWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Import an export (leads with contacts, details and notes) or a plain list of leads
    (name, type, status, website); what exists is kept, bad rows are listed."""
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
        report = await lead_files.import_csv(session, subject.actor, content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return render(
            request, "leads/import.html", {"error": "The file is not UTF-8 text"}, status_code=400
        )
    except StellwerkError as error:
        return render(
            request, "leads/import.html", {"error": error.message}, status_code=error.status
        )
    # The report is shown on the page this redirects to: reloading it imports nothing again.
    summary: dict[str, Any] = {
        "created": report.created,
        "kept": report.kept,
        "rejected_total": len(report.rejected),
        "rejected": [
            {
                "row": r["row"],
                "name": str(r["name"])[:60],
                "reason": str(r["reason"])[:120],
            }
            for r in report.rejected[:IMPORT_ROWS_SHOWN]
        ],
    }
    while summary["rejected"] and not reveal.fits(IMPORT_REPORT, summary):
        summary["rejected"].pop()
    response = RedirectResponse("/leads/import", status_code=303)
    reveal.stash(
        response, request, runtime, kind=IMPORT_REPORT, value=summary, path="/leads/import"
    )
    return response


@router.get("/import", response_class=HTMLResponse)
async def import_report(request: Request, _: WebLeadsReader, runtime: RuntimeDep) -> Response:
    """The report of the import just made; without one, back to the overview."""
    report = reveal.take(request, runtime, kind=IMPORT_REPORT)
    if not isinstance(report, dict):
        return reveal.forget(
            RedirectResponse("/leads/", status_code=303), request, path="/leads/import", shown=False
        )
    response = render(request, "leads/import.html", {"report": report})
    return reveal.forget(response, request, path="/leads/import", shown=True)


# --- contacts and notes ---------------------------------------------------------------------------


def _details(values: dict[str, str], prefix: str) -> tuple[list[DetailCreate], dict[str, str]]:
    details: list[DetailCreate] = []
    for kind in ("email", "phone"):
        if not values.get(kind):
            continue
        try:
            details.append(DetailCreate.model_validate({"type": kind, "value": values[kind]}))
        except ValidationError as error:
            return [], {
                f"{prefix}{kind}": str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            }
    return details, {}


@router.post("/edit/{lead_id:int}/contacts", response_class=HTMLResponse)
async def create_contact(
    request: Request, lead_id: int, subject: WebLeadsWriter, session: SessionDep
) -> Response:
    found = await lead_service.institution(session, lead_id)
    form = await read_form(request)
    values = {name: text(form, name) for name in CONTACT_FIELDS}
    prefix = "contact_"
    try:
        body = ContactCreate.model_validate(
            {
                "institution_id": found.id,
                "first_name": values["first_name"],
                "last_name": values["last_name"],
                "position": values["position"] or None,
            }
        )
        details, errors = _details(values, prefix)
    except ValidationError as error:
        details, errors = [], _errors(error, prefix)
    if errors:
        return await _lead_page(
            request, session, found, errors=errors, forms={"contact": values}, status_code=422
        )
    contact = await lead_service.create_contact(
        session,
        subject.actor,
        institution_id=found.id,
        first_name=body.first_name,
        last_name=body.last_name,
        position=body.position,
        details=[(d.type, d.value, d.label) for d in details],
    )
    name = f"{contact.first_name} {contact.last_name}"
    return _back_to(lead_id, f"Contact {name} added", f"#contact-{contact.id}")


@router.post("/contacts/{contact_id:int}/update", response_class=HTMLResponse)
async def update_contact(
    request: Request, contact_id: int, subject: WebLeadsWriter, session: SessionDep
) -> Response:
    contact = await lead_service.contact(session, contact_id)
    form = await read_form(request)
    values = {name: text(form, name) for name in ("first_name", "last_name", "position")}
    try:
        body = ContactUpdate.model_validate(
            {
                "first_name": values["first_name"],
                "last_name": values["last_name"],
                "position": values["position"] or None,
            }
        )
    except ValidationError as error:
        found = await lead_service.institution(session, contact.institution_id)
        return await _lead_page(
            request,
            session,
            found,
            errors=_errors(error, f"contact_{contact_id}_"),
            forms={f"contact_{contact_id}": values},
            status_code=422,
        )
    await lead_service.update_contact(
        session, subject.actor, contact, changes=body.model_dump(exclude_unset=True)
    )
    name = f"{contact.first_name} {contact.last_name}"
    return _back_to(contact.institution_id, f"Contact {name} saved", f"#contact-{contact_id}")


@router.post("/contacts/{contact_id:int}/delete")
async def delete_contact(contact_id: int, subject: WebLeadsWriter, session: SessionDep) -> Response:
    contact = await lead_service.contact(session, contact_id)
    await lead_service.delete_contact(session, subject.actor, contact)
    name = f"{contact.first_name} {contact.last_name}"
    return _back_to(contact.institution_id, f"Contact {name} deleted")


@router.post("/contacts/{contact_id:int}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request, contact_id: int, subject: WebLeadsWriter, session: SessionDep
) -> Response:
    contact = await lead_service.contact(session, contact_id)
    content = text(await read_form(request), "content")
    try:
        body = NoteCreate.model_validate({"content": content})
    except ValidationError as error:
        found = await lead_service.institution(session, contact.institution_id)
        return await _lead_page(
            request,
            session,
            found,
            errors=_errors(error, f"note_{contact_id}_"),
            forms={f"note_{contact_id}": {"content": content}},
            status_code=422,
        )
    await lead_service.add_note(session, subject.actor, contact, content=body.content)
    return _back_to(contact.institution_id, "Note added", f"#contact-{contact_id}")


@router.post("/notes/{note_id:int}/update", response_class=HTMLResponse)
async def edit_note(
    request: Request, note_id: int, subject: WebLeadsWriter, session: SessionDep
) -> Response:
    note = await lead_service.note(session, note_id)
    contact = await lead_service.contact(session, note.contact_id)
    content = text(await read_form(request), "content")
    try:
        body = NoteCreate.model_validate({"content": content})
    except ValidationError as error:
        found = await lead_service.institution(session, contact.institution_id)
        return await _lead_page(
            request,
            session,
            found,
            errors=_errors(error, f"note_edit_{note_id}_"),
            forms={f"note_edit_{note_id}": {"content": content}},
            status_code=422,
        )
    version = await lead_service.edit_note(session, subject.actor, note, content=body.content)
    return _back_to(
        contact.institution_id, f"Note saved (version {version.version})", f"#note-{note_id}"
    )


@router.post("/notes/{note_id:int}/delete")
async def delete_note(note_id: int, subject: WebLeadsWriter, session: SessionDep) -> Response:
    note = await lead_service.note(session, note_id)
    contact = await lead_service.contact(session, note.contact_id)
    await lead_service.delete_note(session, subject.actor, note)
    return _back_to(contact.institution_id, "Note deleted", f"#contact-{contact.id}")
