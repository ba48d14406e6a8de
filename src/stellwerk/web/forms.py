"""Reading HTML forms: pages post forms, services want typed values and field errors back."""

from __future__ import annotations

import datetime as dt

from fastapi import Request
from starlette.datastructures import FormData

from stellwerk.exceptions import StellwerkError
from stellwerk.kit.pagination import PageParams


async def read_form(request: Request) -> FormData:
    return await request.form()


def text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def date_or_none(form: FormData, name: str) -> dt.datetime | None:
    value = text(form, name)
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def field_errors(error: StellwerkError) -> dict[str, str]:
    """Put an error next to its field, or at the top of the form (key `_`)."""
    return {error.field or "_": error.message}


def page_params(page: int = 1, per_page: int = 25) -> PageParams:
    return PageParams(page=max(1, page), per_page=max(1, min(per_page, 200)))
