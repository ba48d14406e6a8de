from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from stellwerk.kit.body import LenientBody, StrictBody
from stellwerk.kit.email import is_email

InstitutionType = Literal["university", "company", "government", "other"]
LeadStatus = Literal["new", "contacted", "qualified", "won", "lost"]
INSTITUTION_TYPES: tuple[str, ...] = ("university", "company", "government", "other")
LEAD_STATUSES: tuple[str, ...] = ("new", "contacted", "qualified", "won", "lost")
PHONE = re.compile(r"^\+?[0-9][0-9 ()/.-]{2,39}$")


def _name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class InstitutionCreate(LenientBody):
    name: str = Field(min_length=1, max_length=200)
    type: InstitutionType = "other"
    status: LeadStatus = "new"
    website: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")

    _name = field_validator("name")(_name)


class InstitutionUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    type: InstitutionType | None = None
    status: LeadStatus | None = None
    website: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")


class InstitutionRead(BaseModel):
    id: int
    name: str
    type: str
    status: str
    website: str | None
    contact_count: int
    created_at: dt.datetime


class InstitutionPage(BaseModel):
    institutions: list[InstitutionRead]
    total: int
    page: int
    per_page: int


class _Detail(BaseModel):
    type: Literal["email", "phone"]
    value: str = Field(min_length=1, max_length=320)
    label: str | None = Field(default=None, max_length=50)

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        kind = info.data.get("type")
        if kind == "email" and not is_email(value):
            raise ValueError("not a valid email address")
        if kind == "phone" and not PHONE.fullmatch(value):
            raise ValueError("not a valid phone number")
        return value


class DetailCreate(_Detail, LenientBody):
    """`POST /leads/api/contacts/{id}/details`, as documented."""


class ContactDetail(_Detail, StrictBody):
    """A detail given with a new contact."""


class DetailRead(BaseModel):
    id: int
    type: str
    value: str
    label: str | None


class NoteCreate(StrictBody):
    content: str = Field(min_length=1, max_length=20_000)


class NoteRead(BaseModel):
    id: int
    content: str
    version: int
    created_at: dt.datetime
    created_by: str


class NoteVersions(BaseModel):
    note_id: int
    versions: list[NoteRead]


class ContactCreate(StrictBody):
    institution_id: int
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    position: str | None = Field(default=None, max_length=150)
    details: list[ContactDetail] = Field(default_factory=list, max_length=20)

    @field_validator("details", mode="before")
    @classmethod
    def _plain_details(cls, value: object) -> object:
        # The lead pages build `DetailCreate`s from their form first.
        if isinstance(value, list):
            return [d.model_dump() if isinstance(d, _Detail) else d for d in value]
        return value


class ContactUpdate(StrictBody):
    institution_id: int | None = None
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    position: str | None = Field(default=None, max_length=150)


class ContactSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    position: str | None
    institution_id: int
    created_at: dt.datetime


class ContactRead(BaseModel):
    id: int
    first_name: str
    last_name: str
    position: str | None
    institution_id: int
    details: list[DetailRead]
    notes: list[NoteRead]


class Stats(BaseModel):
    total_institutions: int
    total_contacts: int
    recent_activities: int = Field(description="Leads, contacts and notes added in 7 days")
    conversion_rate: float = Field(description="Percent of institutions with status `won`")
    by_type: dict[str, int]
    by_status: dict[str, int]


class Deleted(BaseModel):
    success: bool = True
    message: str
