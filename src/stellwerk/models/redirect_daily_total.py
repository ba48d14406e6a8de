from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectDailyTotal(Base):
    """Hits (bots included), bot hits and unique human visitors of one domain on one UTC day
    (the rollup the daily series and the per-domain ranking read)."""

    __tablename__ = "redirect_daily_totals"
    # Covering index for summaries over many domains: a day range read from the index alone.
    __table_args__ = (
        Index("ix_redirect_daily_totals_day", "day", "domain_id", "hits", "bots", "visitors"),
    )

    domain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bots: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    visitors: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
