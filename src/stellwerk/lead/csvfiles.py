"""The leads CRM as one CSV file: institutions, their contacts, contact details and every
version of every note, and the import that takes the same file back.

Each row has a `record` kind (`institution`, `contact`, `detail`, `note`) and names what it
belongs to by natural keys: the institution's name; a contact's first and last name within it;
a note by its creation time (`note_created_at`) and the version number. Rows the database
already holds are kept as they are, so importing an export again changes nothing, and a file
can move a CRM to another installation with its history. A file without a `record` column is a
list of institutions (`name, type, status, website`), as before.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.exceptions import BadRequest
from stellwerk.kit.csvfile import read_csv, write_csv
from stellwerk.kit.time import as_utc, iso
from stellwerk.lead.repository import LeadRepository
from stellwerk.lead.schemas import DetailCreate, InstitutionCreate
from stellwerk.models import (
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
)

HEADER = (
    "record",
    "name",
    "type",
    "status",
    "website",
    "contact_count",
    "created_at",
    "first_name",
    "last_name",
    "position",
    "detail_type",
    "value",
    "label",
    "note_created_at",
    "version",
    "content",
    "created_by",
)
KINDS = ("institution", "contact", "detail", "note")
MAX_ROWS = 100_000


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    kept: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


class Rejected(ValueError):
    pass


def _row(**cells: object) -> list[object]:
    return [cells.get(name, "") for name in HEADER]


def _moment(text: str, column: str) -> dt.datetime:
    try:
        return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as error:
        raise Rejected(f"{column} is not a time like 2026-01-31T12:00:00Z") from error


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


class LeadFiles:
    async def export_csv(self, session: AsyncSession) -> str:
        repository = LeadRepository(session)
        institutions = await repository.all_institutions()
        contacts: dict[int, list[LeadContact]] = defaultdict(list)
        for contact in await repository.all_contacts():
            contacts[contact.institution_id].append(contact)
        details: dict[int, list[LeadContactDetail]] = defaultdict(list)
        for detail in await repository.all_details():
            details[detail.contact_id].append(detail)
        notes: dict[int, list[LeadNote]] = defaultdict(list)
        for note in await repository.all_notes():
            notes[note.contact_id].append(note)
        versions: dict[int, list[LeadNoteVersion]] = defaultdict(list)
        for version in await repository.all_versions():
            versions[version.note_id].append(version)
        rows: list[list[object]] = []
        for institution in institutions:
            name = institution.name
            rows.append(
                _row(
                    record="institution",
                    name=name,
                    type=institution.institution_type,
                    status=institution.status,
                    website=institution.website,
                    contact_count=len(contacts[institution.id]),
                    created_at=iso(institution.created_at),
                )
            )
            for contact in contacts[institution.id]:
                person = {"name": name, "first_name": contact.first_name}
                person["last_name"] = contact.last_name
                rows.append(
                    _row(
                        record="contact",
                        position=contact.position,
                        created_at=iso(contact.created_at),
                        **person,
                    )
                )
                for detail in details[contact.id]:
                    rows.append(
                        _row(
                            record="detail",
                            detail_type=detail.detail_type,
                            value=detail.value,
                            label=detail.label,
                            **person,
                        )
                    )
                for note in notes[contact.id]:
                    for version in versions[note.id]:
                        rows.append(
                            _row(
                                record="note",
                                note_created_at=iso(note.created_at),
                                version=version.version,
                                content=version.content,
                                created_at=iso(version.created_at),
                                created_by=version.created_by,
                                **person,
                            )
                        )
        return write_csv(HEADER, rows)

    async def import_csv(self, session: AsyncSession, actor: Actor, text: str) -> ImportReport:
        """Create what the database does not hold yet; rows it holds are kept; bad rows are
        reported with their reason and skipped."""
        try:
            rows = read_csv(text)
        except Exception as error:  # csv.Error and decoding trouble alike
            raise BadRequest(f"The file is not valid CSV: {error}", code="invalid_csv") from error
        if rows and "name" not in rows[0]:
            raise BadRequest("The CSV needs a `name` column", code="invalid_csv")
        if len(rows) > MAX_ROWS:
            raise BadRequest(f"At most {MAX_ROWS} rows per import", code="too_many_rows")
        report = ImportReport()
        repository = LeadRepository(session)
        institutions: dict[str, LeadInstitution | None] = {}
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            kind = (row.get("record") or "institution").lower()
            try:
                if kind not in KINDS:
                    raise Rejected(f"record must be one of {', '.join(KINDS)}")
                if kind == "institution":
                    created = await self._institution(repository, row, institutions)
                else:
                    institution = await self._known_institution(repository, row, institutions)
                    created = await getattr(self, f"_{kind}")(repository, row, institution)
            except Rejected as error:
                report.rejected.append(
                    {"row": number, "name": row.get("name", ""), "reason": str(error)}
                )
                continue
            if created:
                report.created[kind] += 1
            else:
                report.kept += 1
        await audit.record(
            session,
            actor,
            "lead.import",
            target_type="lead_institution",
            detail={
                "created": report.created,
                "kept": report.kept,
                "rejected": len(report.rejected),
            },
        )
        return report

    async def _institution(
        self,
        repository: LeadRepository,
        row: dict[str, str],
        known: dict[str, LeadInstitution | None],
    ) -> bool:
        try:
            lead = InstitutionCreate.model_validate(
                {
                    "name": row.get("name", ""),
                    "type": row.get("type") or "other",
                    "status": row.get("status") or "new",
                    "website": row.get("website") or None,
                }
            )
        except ValidationError as error:
            raise Rejected(_first_error(error)) from error
        key = lead.name.lower()
        if key not in known:
            known[key] = await repository.institution_by_name(lead.name)
        if known[key] is not None:
            return False
        institution = LeadInstitution(
            name=lead.name, institution_type=lead.type, status=lead.status, website=lead.website
        )
        if row.get("created_at"):
            institution.created_at = _moment(row["created_at"], "created_at")
        await repository.add(institution)
        known[key] = institution
        return True

    async def _known_institution(
        self,
        repository: LeadRepository,
        row: dict[str, str],
        known: dict[str, LeadInstitution | None],
    ) -> LeadInstitution:
        name = " ".join((row.get("name") or "").split())
        key = name.lower()
        if key not in known:
            known[key] = await repository.institution_by_name(name) if name else None
        institution = known[key]
        if institution is None:
            raise Rejected(f"no institution named {name!r} (list it before its contacts)")
        return institution

    async def _person(
        self, repository: LeadRepository, row: dict[str, str], institution: LeadInstitution
    ) -> LeadContact:
        first, last = row.get("first_name", ""), row.get("last_name", "")
        contact = await repository.contact_by_name(institution.id, first, last)
        if contact is None:
            raise Rejected(f"{institution.name} has no contact {first} {last}")
        return contact

    async def _contact(
        self, repository: LeadRepository, row: dict[str, str], institution: LeadInstitution
    ) -> bool:
        first, last = row.get("first_name", ""), row.get("last_name", "")
        position = row.get("position") or None
        if not first or not last:
            raise Rejected("a contact needs first_name and last_name")
        if len(first) > 100 or len(last) > 100 or (position and len(position) > 150):
            raise Rejected("names have at most 100 characters, the position 150")
        if await repository.contact_by_name(institution.id, first, last) is not None:
            return False
        contact = LeadContact(
            institution_id=institution.id, first_name=first, last_name=last, position=position
        )
        if row.get("created_at"):
            contact.created_at = _moment(row["created_at"], "created_at")
        await repository.add(contact)
        return True

    async def _detail(
        self, repository: LeadRepository, row: dict[str, str], institution: LeadInstitution
    ) -> bool:
        contact = await self._person(repository, row, institution)
        try:
            detail = DetailCreate.model_validate(
                {
                    "type": row.get("detail_type", ""),
                    "value": row.get("value", ""),
                    "label": row.get("label") or None,
                }
            )
        except ValidationError as error:
            raise Rejected(_first_error(error)) from error
        if await repository.has_detail(contact.id, detail.type, detail.value):
            return False
        await repository.add(
            LeadContactDetail(
                contact_id=contact.id,
                detail_type=detail.type,
                value=detail.value,
                label=detail.label,
            )
        )
        return True

    async def _note(
        self, repository: LeadRepository, row: dict[str, str], institution: LeadInstitution
    ) -> bool:
        contact = await self._person(repository, row, institution)
        content = row.get("content", "")
        version_text = row.get("version") or "1"
        if not version_text.isdecimal() or not 1 <= int(version_text) <= 100_000:
            raise Rejected("version must be a number from 1")
        version = int(version_text)
        if not content or len(content) > 20_000:
            raise Rejected("a note version has 1 to 20,000 characters")
        created = _moment(row.get("note_created_at") or "", "note_created_at")
        note = await repository.note_created_at(contact.id, created)
        if note is None:
            note = LeadNote(contact_id=contact.id, current_version=version, created_at=created)
            await repository.add(note)
        elif await repository.has_version(note.id, version):
            return False
        entry = LeadNoteVersion(
            note_id=note.id,
            version=version,
            content=content,
            created_by=(row.get("created_by") or "import")[:150],
        )
        if row.get("created_at"):
            entry.created_at = _moment(row["created_at"], "created_at")
        await repository.add(entry)
        note.current_version = max(note.current_version, version)
        return True


lead_files = LeadFiles()
