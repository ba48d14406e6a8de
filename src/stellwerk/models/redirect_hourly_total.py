from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectHourlyTotal(Base):
    """Hits (and bot hits among them) of one domain in one UTC hour, for short windows.

    `hour` counts hours since the Unix epoch. Kept for a week (the stats show at most two days
    hour by hour)."""

    __tablename__ = "redirect_hourly_totals"
    __table_args__ = (Index("ix_redirect_hourly_totals_hour", "hour", "domain_id", "hits", "bots"),)

    domain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bots: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
