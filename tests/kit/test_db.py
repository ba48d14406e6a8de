"""`kit.db`: the SQLite text of a time is what `UTCDateTime` binds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from stellwerk.kit.db import UTCDateTime, sqlite_utc_text

BERLIN = dt.timezone(dt.timedelta(hours=1))


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 12, 7, 5, 4, 36, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 7, 5, 4, 36, tzinfo=dt.UTC),  # no microseconds: still six digits
        dt.datetime(2026, 12, 7, 0, 30, 0, 5, tzinfo=BERLIN),  # another zone: the day before
        dt.datetime(2026, 1, 2, 3, 4, 5, 60),  # naive: taken as UTC
    ],
)
def test_sqlite_text_is_what_the_column_type_binds(value: dt.datetime) -> None:
    dialect = sqlite.dialect()
    column = UTCDateTime()
    bound = column.process_bind_param(value, dialect)
    processor = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    assert sqlite_utc_text(value) == processor(bound)
