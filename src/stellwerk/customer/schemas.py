from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stellwerk.kit.body import StrictBody
from stellwerk.kit.email import check_email


class CustomerCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    notes: str | None = Field(default=None, max_length=10_000)

    _email = field_validator("email")(check_email)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class CustomerUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = None
    notes: str | None = Field(default=None, max_length=10_000)

    _email = field_validator("email")(check_email)


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    notes: str | None
    license_count: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class SelectOption(BaseModel):
    id: int
    text: str


class SelectPagination(BaseModel):
    more: bool


class CustomerSearch(BaseModel):
    """Select2's shape (`results`, `pagination.more`) and the plain page envelope in one."""

    results: list[SelectOption]
    pagination: SelectPagination
    items: list[CustomerRead]
    total: int
    page: int
    per_page: int
    pages: int


class Deleted(BaseModel):
    success: bool = True
    message: str
