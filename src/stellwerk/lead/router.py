"""HTTP for the leads CRM's JSON API (`/leads/api/...`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from stellwerk.database import SessionDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.lead.auth import LeadsReader, LeadsWriter
from stellwerk.lead.schemas import (
    ContactCreate,
    ContactRead,
    ContactSummary,
    ContactUpdate,
    Deleted,
    DetailCreate,
    DetailRead,
    InstitutionCreate,
    InstitutionPage,
    InstitutionRead,
    InstitutionUpdate,
    NoteCreate,
    NoteRead,
    NoteVersions,
    Stats,
)
from stellwerk.lead.service import ContactView
from stellwerk.lead.service import lead as lead_service
from stellwerk.models import LeadContactDetail, LeadInstitution, LeadNoteVersion
from stellwerk.surface import Surface, error_responses

router = APIRouter(prefix="/leads/api", tags=["leads"], responses=error_responses(Surface.LICENSE))
PageDep = Annotated[PageParams, Depends(page_params)]
Search = Annotated[str | None, Query(max_length=200)]


def _institution(found: LeadInstitution, contact_count: int) -> InstitutionRead:
    return InstitutionRead(
        id=found.id,
        name=found.name,
        type=found.institution_type,
        status=found.status,
        website=found.website,
        contact_count=contact_count,
        created_at=found.created_at,
    )


def _detail(detail: LeadContactDetail) -> DetailRead:
    return DetailRead(id=detail.id, type=detail.detail_type, value=detail.value, label=detail.label)


def _note(note_id: int, version: LeadNoteVersion) -> NoteRead:
    return NoteRead(
        id=note_id,
        content=version.content,
        version=version.version,
        created_at=version.created_at,
        created_by=version.created_by,
    )


def _contact(view: ContactView) -> ContactRead:
    contact = view.contact
    return ContactRead(
        id=contact.id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        position=contact.position,
        institution_id=contact.institution_id,
        details=[_detail(d) for d in view.details],
        notes=[_note(note.id, version) for note, version in view.notes],
    )


@router.get("/institutions", response_model=InstitutionPage)
async def list_institutions(
    _: LeadsReader, session: SessionDep, params: PageDep, search: Search = None
) -> InstitutionPage:
    """Institutions with their number of contacts, by name."""
    rows, total = await lead_service.institutions(session, search=search, params=params)
    return InstitutionPage(
        institutions=[_institution(i, count) for i, count in rows],
        total=total,
        page=params.page,
        per_page=params.per_page,
    )


@router.post("/institutions", response_model=InstitutionRead, status_code=status.HTTP_201_CREATED)
async def create_institution(
    body: InstitutionCreate, subject: LeadsWriter, session: SessionDep
) -> InstitutionRead:
    created = await lead_service.create_institution(
        session,
        subject.actor,
        name=body.name,
        institution_type=body.type,
        status=body.status,
        website=body.website,
    )
    return _institution(created, 0)


@router.get("/institutions/{institution_id:int}", response_model=InstitutionRead)
async def get_institution(
    institution_id: int, _: LeadsReader, session: SessionDep
) -> InstitutionRead:
    found = await lead_service.institution(session, institution_id)
    return _institution(found, await lead_service.contact_count(session, found.id))


@router.put("/institutions/{institution_id:int}", response_model=InstitutionRead)
async def update_institution(
    institution_id: int, body: InstitutionUpdate, subject: LeadsWriter, session: SessionDep
) -> InstitutionRead:
    found = await lead_service.institution(session, institution_id)
    updated = await lead_service.update_institution(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    return _institution(updated, await lead_service.contact_count(session, found.id))


@router.delete("/institutions/{institution_id:int}", response_model=Deleted)
async def delete_institution(
    institution_id: int, subject: LeadsWriter, session: SessionDep
) -> Deleted:
    """Delete an institution with its contacts and notes."""
    found = await lead_service.institution(session, institution_id)
    await lead_service.delete_institution(session, subject.actor, found)
    return Deleted(message="Institution deleted")


@router.get("/contacts", response_model=Page[ContactSummary])
async def list_contacts(
    _: LeadsReader,
    session: SessionDep,
    params: PageDep,
    search: Search = None,
    institution_id: int | None = None,
) -> Page[ContactSummary]:
    rows, total = await lead_service.contacts(
        session, search=search, institution_id=institution_id, params=params
    )
    return Page.of([ContactSummary.model_validate(c) for c in rows], total=total, params=params)


@router.post("/contacts", response_model=ContactRead, status_code=status.HTTP_201_CREATED)
async def create_contact(
    body: ContactCreate, subject: LeadsWriter, session: SessionDep
) -> ContactRead:
    created = await lead_service.create_contact(
        session,
        subject.actor,
        institution_id=body.institution_id,
        first_name=body.first_name,
        last_name=body.last_name,
        position=body.position,
        details=[(d.type, d.value, d.label) for d in body.details],
    )
    return _contact(await lead_service.contact_view(session, created.id))


@router.get("/contacts/{contact_id:int}", response_model=ContactRead)
async def get_contact(contact_id: int, _: LeadsReader, session: SessionDep) -> ContactRead:
    """A contact with their details and the current version of each note."""
    return _contact(await lead_service.contact_view(session, contact_id))


@router.put("/contacts/{contact_id:int}", response_model=ContactRead)
async def update_contact(
    contact_id: int, body: ContactUpdate, subject: LeadsWriter, session: SessionDep
) -> ContactRead:
    found = await lead_service.contact(session, contact_id)
    await lead_service.update_contact(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    return _contact(await lead_service.contact_view(session, contact_id))


@router.delete("/contacts/{contact_id:int}", response_model=Deleted)
async def delete_contact(contact_id: int, subject: LeadsWriter, session: SessionDep) -> Deleted:
    found = await lead_service.contact(session, contact_id)
    await lead_service.delete_contact(session, subject.actor, found)
    return Deleted(message="Contact deleted")


@router.post(
    "/contacts/{contact_id:int}/details",
    response_model=DetailRead,
    status_code=status.HTTP_201_CREATED,
)
async def add_detail(
    contact_id: int, body: DetailCreate, subject: LeadsWriter, session: SessionDep
) -> DetailRead:
    """Add an email address or phone number with a label."""
    found = await lead_service.contact(session, contact_id)
    detail = await lead_service.add_detail(
        session, subject.actor, found, detail_type=body.type, value=body.value, label=body.label
    )
    return _detail(detail)


@router.delete("/contacts/{contact_id:int}/details/{detail_id:int}", response_model=Deleted)
async def delete_detail(
    contact_id: int, detail_id: int, subject: LeadsWriter, session: SessionDep
) -> Deleted:
    found = await lead_service.contact(session, contact_id)
    await lead_service.delete_detail(session, subject.actor, found, detail_id)
    return Deleted(message="Detail deleted")


@router.post(
    "/contacts/{contact_id:int}/notes", response_model=NoteRead, status_code=status.HTTP_201_CREATED
)
async def add_note(
    contact_id: int, body: NoteCreate, subject: LeadsWriter, session: SessionDep
) -> NoteRead:
    found = await lead_service.contact(session, contact_id)
    note, version = await lead_service.add_note(session, subject.actor, found, content=body.content)
    return _note(note.id, version)


@router.put("/notes/{note_id:int}", response_model=NoteRead)
async def edit_note(
    note_id: int, body: NoteCreate, subject: LeadsWriter, session: SessionDep
) -> NoteRead:
    """Edit a note: a new version; the earlier ones stay in its history."""
    note = await lead_service.note(session, note_id)
    version = await lead_service.edit_note(session, subject.actor, note, content=body.content)
    return _note(note.id, version)


@router.get("/notes/{note_id:int}/versions", response_model=NoteVersions)
async def note_versions(note_id: int, _: LeadsReader, session: SessionDep) -> NoteVersions:
    note = await lead_service.note(session, note_id)
    versions = await lead_service.note_versions(session, note)
    return NoteVersions(note_id=note.id, versions=[_note(note.id, v) for v in versions])


@router.delete("/notes/{note_id:int}", response_model=Deleted)
async def delete_note(note_id: int, subject: LeadsWriter, session: SessionDep) -> Deleted:
    note = await lead_service.note(session, note_id)
    await lead_service.delete_note(session, subject.actor, note)
    return Deleted(message="Note deleted")


@router.get("/stats", response_model=Stats)
async def stats(_: LeadsReader, session: SessionDep) -> Stats:
    return Stats.model_validate(await lead_service.stats(session))
