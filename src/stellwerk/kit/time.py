"""Clock helpers: everything Stellwerk stores is UTC."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Attach UTC to naive values (SQLite returns them) and convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 with a `Z`, the form the API documents show."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def epoch_ms(value: dt.datetime) -> int:
    return int(as_utc(value).timestamp() * 1000)


def from_epoch_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
