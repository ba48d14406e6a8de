from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base

# What a hit is counted by, besides its day.
DIMENSIONS = ("country", "referrer", "path", "browser", "os", "device")
# One more dimension with the single value "": every hit of the scope (and its visitors), so a
# summary's series and ranking never sum one row per domain and day.
TOTAL = "total"


class RedirectDailyCount(Base):
    """Hits (and how many of them were bots) per scope, UTC day, dimension and value.

    One rollup for every breakdown the stats show: `scope` is `domain`, `owner` (all of one
    owner's domains, for the summary) or `group` (all domains of a group), `dimension` one of
    `DIMENSIONS` or `TOTAL`. `value` is "" when unknown (no referrer, unknown country) and
    `(other)` for values beyond the first `VALUES_PER_DAY` of a scope's day and dimension
    (countries are not capped), so a scope's day never holds more than a bounded number of
    rows."""

    __tablename__ = "redirect_daily_counts"
    # The key's order serves the stats: one scope, one dimension, a range of days. The partial
    # index serves rankings: every domain's `total` rows of a period in one range.
    __table_args__ = (
        Index(
            "ix_redirect_daily_counts_total",
            "scope",
            "day",
            "scope_id",
            "hits",
            "bots",
            sqlite_where=text("dimension = 'total'"),
            postgresql_where=text("dimension = 'total'"),
        ),
        {"sqlite_with_rowid": False},
    )

    scope: Mapped[str] = mapped_column(String(6), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bots: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Only in the `total` dimension: unique human visitors (summed over the scope's domains).
    visitors: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
