"""The leads CRM. Editing a note adds a version; the old text stays readable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import utc_now
from stellwerk.lead.repository import LeadRepository
from stellwerk.lead.schemas import INSTITUTION_TYPES, LEAD_STATUSES
from stellwerk.models import (
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
)


@dataclass(frozen=True)
class ContactView:
    contact: LeadContact
    details: Sequence[LeadContactDetail]
    notes: Sequence[tuple[LeadNote, LeadNoteVersion]]


class LeadService:
    # Institutions (the leads)

    async def create_institution(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        name: str,
        institution_type: str = "other",
        status: str = "new",
        website: str | None = None,
    ) -> LeadInstitution:
        repository = LeadRepository(session)
        if await repository.institution_by_name(name):
            raise Conflict(f"An institution named {name!r} exists", code="institution_exists")
        institution = LeadInstitution(
            name=name, institution_type=institution_type, status=status, website=website
        )
        await repository.add(institution)
        await audit.record(
            session,
            actor,
            "lead.institution_create",
            target_type="lead_institution",
            target_id=institution.id,
            detail={"name": name},
        )
        return institution

    async def institution(self, session: AsyncSession, institution_id: int) -> LeadInstitution:
        found = await LeadRepository(session).institution(institution_id)
        if found is None:
            raise NotFound(f"No institution with id {institution_id}", code="institution_not_found")
        return found

    async def institutions(
        self, session: AsyncSession, *, search: str | None, params: PageParams
    ) -> tuple[Sequence[tuple[LeadInstitution, int]], int]:
        return await LeadRepository(session).institutions(
            search=search.strip() if search else None, offset=params.offset, limit=params.per_page
        )

    async def contact_count(self, session: AsyncSession, institution_id: int) -> int:
        return await LeadRepository(session).contact_count(institution_id)

    async def update_institution(
        self,
        session: AsyncSession,
        actor: Actor,
        institution: LeadInstitution,
        *,
        changes: dict[str, Any],
    ) -> LeadInstitution:
        columns = {
            "name": "name",
            "type": "institution_type",
            "status": "status",
            "website": "website",
        }
        for field in ("name", "type", "status"):
            if field in changes and changes[field] is None:
                raise ValidationFailed(f"{field} cannot be null", field=field)
        name = changes.get("name")
        if name and name.strip().lower() != institution.name.lower():
            if await LeadRepository(session).institution_by_name(name.strip()):
                raise Conflict(f"An institution named {name!r} exists", code="institution_exists")
            changes["name"] = name.strip()
        applied: dict[str, Any] = {}
        for field, value in changes.items():
            column = columns[field]
            if getattr(institution, column) != value:
                setattr(institution, column, value)
                applied[field] = value
        await session.flush()
        if applied:
            await audit.record(
                session,
                actor,
                "lead.institution_update",
                target_type="lead_institution",
                target_id=institution.id,
                detail=applied,
            )
        return institution

    async def delete_institution(
        self, session: AsyncSession, actor: Actor, institution: LeadInstitution
    ) -> None:
        await LeadRepository(session).delete(institution)
        await audit.record(
            session,
            actor,
            "lead.institution_delete",
            target_type="lead_institution",
            target_id=institution.id,
            detail={"name": institution.name},
        )

    # Contacts

    async def create_contact(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        institution_id: int,
        first_name: str,
        last_name: str,
        position: str | None = None,
        details: Sequence[tuple[str, str, str | None]] = (),
    ) -> LeadContact:
        repository = LeadRepository(session)
        if await repository.institution(institution_id) is None:
            raise ValidationFailed(
                f"No institution with id {institution_id}", field="institution_id"
            )
        contact = LeadContact(
            institution_id=institution_id,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            position=position,
        )
        await repository.add(contact)
        for detail_type, value, label in details:
            await repository.add(
                LeadContactDetail(
                    contact_id=contact.id, detail_type=detail_type, value=value, label=label
                )
            )
        await audit.record(
            session,
            actor,
            "lead.contact_create",
            target_type="lead_contact",
            target_id=contact.id,
            detail={"institution_id": institution_id},
        )
        return contact

    async def contact(self, session: AsyncSession, contact_id: int) -> LeadContact:
        found = await LeadRepository(session).contact(contact_id)
        if found is None:
            raise NotFound(f"No contact with id {contact_id}", code="contact_not_found")
        return found

    async def contact_view(self, session: AsyncSession, contact_id: int) -> ContactView:
        contact = await self.contact(session, contact_id)
        repository = LeadRepository(session)
        return ContactView(
            contact,
            await repository.details(contact.id),
            await repository.current_notes(contact.id),
        )

    async def contacts(
        self,
        session: AsyncSession,
        *,
        search: str | None,
        institution_id: int | None,
        params: PageParams,
    ) -> tuple[Sequence[LeadContact], int]:
        return await LeadRepository(session).contacts(
            search=search.strip() if search else None,
            institution_id=institution_id,
            offset=params.offset,
            limit=params.per_page,
        )

    async def update_contact(
        self, session: AsyncSession, actor: Actor, contact: LeadContact, *, changes: dict[str, Any]
    ) -> LeadContact:
        for field in ("institution_id", "first_name", "last_name"):
            if field in changes and changes[field] is None:
                raise ValidationFailed(f"{field} cannot be null", field=field)
        if "institution_id" in changes and not await LeadRepository(session).institution(
            changes["institution_id"]
        ):
            raise ValidationFailed(
                f"No institution with id {changes['institution_id']}", field="institution_id"
            )
        applied = {k: v for k, v in changes.items() if getattr(contact, k) != v}
        for field, value in applied.items():
            setattr(contact, field, value)
        await session.flush()
        if applied:
            await audit.record(
                session,
                actor,
                "lead.contact_update",
                target_type="lead_contact",
                target_id=contact.id,
                detail=applied,
            )
        return contact

    async def delete_contact(
        self, session: AsyncSession, actor: Actor, contact: LeadContact
    ) -> None:
        await LeadRepository(session).delete(contact)
        await audit.record(
            session, actor, "lead.contact_delete", target_type="lead_contact", target_id=contact.id
        )

    async def add_detail(
        self,
        session: AsyncSession,
        actor: Actor,
        contact: LeadContact,
        *,
        detail_type: str,
        value: str,
        label: str | None,
    ) -> LeadContactDetail:
        detail = LeadContactDetail(
            contact_id=contact.id, detail_type=detail_type, value=value, label=label
        )
        await LeadRepository(session).add(detail)
        await audit.record(
            session,
            actor,
            "lead.detail_add",
            target_type="lead_contact",
            target_id=contact.id,
            detail={"type": detail_type, "label": label},
        )
        return detail

    async def delete_detail(
        self, session: AsyncSession, actor: Actor, contact: LeadContact, detail_id: int
    ) -> None:
        repository = LeadRepository(session)
        detail = await repository.detail(contact.id, detail_id)
        if detail is None:
            raise NotFound(
                f"Contact {contact.id} has no detail {detail_id}", code="detail_not_found"
            )
        await repository.delete(detail)
        await audit.record(
            session,
            actor,
            "lead.detail_delete",
            target_type="lead_contact",
            target_id=contact.id,
            detail={"detail_id": detail_id},
        )

    # Notes

    async def add_note(
        self, session: AsyncSession, actor: Actor, contact: LeadContact, *, content: str
    ) -> tuple[LeadNote, LeadNoteVersion]:
        repository = LeadRepository(session)
        note = LeadNote(contact_id=contact.id, current_version=1)
        await repository.add(note)
        version = LeadNoteVersion(
            note_id=note.id, version=1, content=content, created_by=actor.name
        )
        await repository.add(version)
        await audit.record(
            session, actor, "lead.note_add", target_type="lead_note", target_id=note.id
        )
        return note, version

    async def note(self, session: AsyncSession, note_id: int) -> LeadNote:
        found = await LeadRepository(session).note(note_id)
        if found is None:
            raise NotFound(f"No note with id {note_id}", code="note_not_found")
        return found

    async def edit_note(
        self, session: AsyncSession, actor: Actor, note: LeadNote, *, content: str
    ) -> LeadNoteVersion:
        """A new version; earlier versions stay as they were."""
        version = LeadNoteVersion(
            note_id=note.id,
            version=note.current_version + 1,
            content=content,
            created_by=actor.name,
        )
        await LeadRepository(session).add(version)
        note.current_version = version.version
        await session.flush()
        await audit.record(
            session,
            actor,
            "lead.note_edit",
            target_type="lead_note",
            target_id=note.id,
            detail={"version": version.version},
        )
        return version

    async def note_versions(
        self, session: AsyncSession, note: LeadNote
    ) -> Sequence[LeadNoteVersion]:
        return await LeadRepository(session).versions(note.id)

    async def delete_note(self, session: AsyncSession, actor: Actor, note: LeadNote) -> None:
        await LeadRepository(session).delete(note)
        await audit.record(
            session, actor, "lead.note_delete", target_type="lead_note", target_id=note.id
        )

    # Statistics, export and import

    async def stats(self, session: AsyncSession) -> dict[str, Any]:
        repository = LeadRepository(session)
        total = await repository.count_institutions()
        by_status = await repository.count_by("status")
        by_type = await repository.count_by("institution_type")
        return {
            "total_institutions": total,
            "total_contacts": await repository.count_contacts(),
            "recent_activities": await repository.activities_since(
                utc_now() - dt.timedelta(days=7)
            ),
            "conversion_rate": round(100 * by_status.get("won", 0) / total, 1) if total else 0.0,
            "by_type": {kind: by_type.get(kind, 0) for kind in INSTITUTION_TYPES},
            "by_status": {status: by_status.get(status, 0) for status in LEAD_STATUSES},
        }

    async def search(
        self, session: AsyncSession, query: str, *, limit: int
    ) -> Sequence[LeadInstitution]:
        return await LeadRepository(session).search_institutions(query, limit=limit)

    async def count_search(self, session: AsyncSession, query: str) -> int:
        return await LeadRepository(session).count_search_institutions(query)


lead = LeadService()
