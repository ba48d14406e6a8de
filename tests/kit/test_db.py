"""`kit.db`: the SQLite text of a time is what `UTCDateTime` binds, and its fused SQLite reader
reads what the generic path reads."""

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


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-07 05:04:36.123456",  # as Stellwerk writes it
        "2026-12-07 05:04:36",  # CURRENT_TIMESTAMP's form
        "2026-12-07",  # a date alone: midnight
        "2026-12-07 06:04:36.000001+01:00",  # written with an offset: the same instant in UTC
        None,
    ],
)
def test_sqlite_read_is_the_generic_read(stored: str | None) -> None:
    """The fused SQLite reader gives what the dialect's parser and `process_result_value`
    give one after the other: an aware UTC time."""
    dialect = sqlite.dialect()
    column = UTCDateTime()
    fused = column.result_processor(dialect, None)
    assert fused is not None
    parse = DateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert parse is not None
    expected = column.process_result_value(parse(stored), dialect)
    read = fused(stored)
    assert read == expected
    if read is not None:
        assert read.tzinfo is dt.UTC
