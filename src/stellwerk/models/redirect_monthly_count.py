from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectMonthlyCount(Base):
    """`RedirectDailyCount` summed per calendar month (`month` is its first day).

    Long windows read whole months from here and only the days at their edges from the daily
    rows, so a year of stats sums about a tenth of the rows. Values are capped per month as
    they are per day (`VALUES_PER_MONTH`)."""

    __tablename__ = "redirect_monthly_counts"
    __table_args__ = (
        Index(
            "ix_redirect_monthly_counts_total",
            "scope",
            "month",
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
    month: Mapped[dt.date] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bots: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Only in the `total` dimension: unique human visitors (summed over the scope's domains).
    visitors: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
