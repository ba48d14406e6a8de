"""All SQL for the leads CRM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import (
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, item: object) -> None:
        self.session.add(item)
        await self.session.flush()

    async def delete(self, item: object) -> None:
        await self.session.delete(item)
        await self.session.flush()

    # Institutions

    async def institution(self, institution_id: int) -> LeadInstitution | None:
        return await self.session.get(LeadInstitution, institution_id)

    async def institution_by_name(self, name: str) -> LeadInstitution | None:
        return await self.session.scalar(
            select(LeadInstitution).where(func.lower(LeadInstitution.name) == name.lower())
        )

    async def institutions(
        self, *, search: str | None, offset: int | None, limit: int | None
    ) -> tuple[Sequence[tuple[LeadInstitution, int]], int]:
        conditions = []
        if search:
            conditions.append(LeadInstitution.name.ilike(_like(search), escape="\\"))
        total = await self.session.scalar(
            select(func.count()).select_from(LeadInstitution).where(*conditions)
        )
        contacts = (
            select(func.count())
            .select_from(LeadContact)
            .where(LeadContact.institution_id == LeadInstitution.id)
            .scalar_subquery()
        )
        statement = (
            select(LeadInstitution, contacts)
            .where(*conditions)
            .order_by(LeadInstitution.name, LeadInstitution.id)
            .offset(offset)
            .limit(limit)
        )
        rows = await self.session.execute(statement)
        return [(institution, int(count)) for institution, count in rows.tuples()], int(total or 0)

    async def contact_count(self, institution_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(LeadContact)
                .where(LeadContact.institution_id == institution_id)
            )
            or 0
        )

    # Contacts

    async def contact(self, contact_id: int) -> LeadContact | None:
        return await self.session.get(LeadContact, contact_id)

    async def contacts(
        self, *, search: str | None, institution_id: int | None, offset: int, limit: int
    ) -> tuple[Sequence[LeadContact], int]:
        conditions = []
        if search:
            pattern = _like(search)
            conditions.append(
                or_(
                    func.lower(LeadContact.first_name).like(pattern, escape="\\"),
                    func.lower(LeadContact.last_name).like(pattern, escape="\\"),
                    func.lower(LeadContact.position).like(pattern, escape="\\"),
                )
            )
        if institution_id is not None:
            conditions.append(LeadContact.institution_id == institution_id)
        total = await self.session.scalar(
            select(func.count()).select_from(LeadContact).where(*conditions)
        )
        rows = await self.session.scalars(
            select(LeadContact)
            .where(*conditions)
            .order_by(LeadContact.last_name, LeadContact.first_name, LeadContact.id)
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def details(self, contact_id: int) -> Sequence[LeadContactDetail]:
        return (
            await self.session.scalars(
                select(LeadContactDetail)
                .where(LeadContactDetail.contact_id == contact_id)
                .order_by(LeadContactDetail.id)
            )
        ).all()

    async def detail(self, contact_id: int, detail_id: int) -> LeadContactDetail | None:
        return await self.session.scalar(
            select(LeadContactDetail).where(
                LeadContactDetail.contact_id == contact_id, LeadContactDetail.id == detail_id
            )
        )

    # Notes

    async def note(self, note_id: int) -> LeadNote | None:
        return await self.session.get(LeadNote, note_id)

    async def current_notes(self, contact_id: int) -> Sequence[tuple[LeadNote, LeadNoteVersion]]:
        rows = await self.session.execute(
            select(LeadNote, LeadNoteVersion)
            .join(
                LeadNoteVersion,
                (LeadNoteVersion.note_id == LeadNote.id)
                & (LeadNoteVersion.version == LeadNote.current_version),
            )
            .where(LeadNote.contact_id == contact_id)
            .order_by(LeadNote.id)
        )
        return [(note, version) for note, version in rows.tuples()]

    async def versions(self, note_id: int) -> Sequence[LeadNoteVersion]:
        return (
            await self.session.scalars(
                select(LeadNoteVersion)
                .where(LeadNoteVersion.note_id == note_id)
                .order_by(LeadNoteVersion.version)
            )
        ).all()

    # Export and import (whole tables, in the order a file lists them)

    async def all_institutions(self) -> Sequence[LeadInstitution]:
        return (
            await self.session.scalars(
                select(LeadInstitution).order_by(
                    func.lower(LeadInstitution.name), LeadInstitution.id
                )
            )
        ).all()

    async def all_contacts(self) -> Sequence[LeadContact]:
        return (await self.session.scalars(select(LeadContact).order_by(LeadContact.id))).all()

    async def all_details(self) -> Sequence[LeadContactDetail]:
        return (
            await self.session.scalars(select(LeadContactDetail).order_by(LeadContactDetail.id))
        ).all()

    async def all_notes(self) -> Sequence[LeadNote]:
        return (await self.session.scalars(select(LeadNote).order_by(LeadNote.id))).all()

    async def all_versions(self) -> Sequence[LeadNoteVersion]:
        return (
            await self.session.scalars(
                select(LeadNoteVersion).order_by(LeadNoteVersion.note_id, LeadNoteVersion.version)
            )
        ).all()

    async def contact_by_name(
        self, institution_id: int, first_name: str, last_name: str
    ) -> LeadContact | None:
        return await self.session.scalar(
            select(LeadContact)
            .where(
                LeadContact.institution_id == institution_id,
                func.lower(LeadContact.first_name) == first_name.lower(),
                func.lower(LeadContact.last_name) == last_name.lower(),
            )
            .order_by(LeadContact.id)
            .limit(1)
        )

    async def has_detail(self, contact_id: int, detail_type: str, value: str) -> bool:
        found = await self.session.scalar(
            select(LeadContactDetail.id)
            .where(
                LeadContactDetail.contact_id == contact_id,
                LeadContactDetail.detail_type == detail_type,
                func.lower(LeadContactDetail.value) == value.lower(),
            )
            .limit(1)
        )
        return found is not None

    async def note_created_at(self, contact_id: int, created_at: dt.datetime) -> LeadNote | None:
        return await self.session.scalar(
            select(LeadNote).where(
                LeadNote.contact_id == contact_id, LeadNote.created_at == created_at
            )
        )

    async def has_version(self, note_id: int, version: int) -> bool:
        found = await self.session.scalar(
            select(LeadNoteVersion.id).where(
                LeadNoteVersion.note_id == note_id, LeadNoteVersion.version == version
            )
        )
        return found is not None

    # Statistics and search

    async def count_institutions(self) -> int:
        return int(
            await self.session.scalar(select(func.count()).select_from(LeadInstitution)) or 0
        )

    async def count_contacts(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(LeadContact)) or 0)

    async def count_by(self, column: str) -> dict[str, int]:
        attribute = getattr(LeadInstitution, column)
        rows = await self.session.execute(select(attribute, func.count()).group_by(attribute))
        return {str(key): int(count) for key, count in rows.tuples()}

    async def activities_since(self, since: dt.datetime) -> int:
        notes = await self.session.scalar(
            select(func.count())
            .select_from(LeadNoteVersion)
            .where(LeadNoteVersion.created_at >= since)
        )
        contacts = await self.session.scalar(
            select(func.count()).select_from(LeadContact).where(LeadContact.created_at >= since)
        )
        institutions = await self.session.scalar(
            select(func.count())
            .select_from(LeadInstitution)
            .where(LeadInstitution.created_at >= since)
        )
        return int(notes or 0) + int(contacts or 0) + int(institutions or 0)

    async def search_institutions(self, query: str, *, limit: int) -> Sequence[LeadInstitution]:
        return (
            await self.session.scalars(
                select(LeadInstitution)
                .where(LeadInstitution.name.ilike(_like(query), escape="\\"))
                .order_by(LeadInstitution.name)
                .limit(limit)
            )
        ).all()

    async def count_search_institutions(self, query: str) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(LeadInstitution)
                .where(LeadInstitution.name.ilike(_like(query), escape="\\"))
            )
            or 0
        )
