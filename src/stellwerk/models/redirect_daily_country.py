from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectDailyCountry(Base):
    """Hits of one domain from one country on one UTC day ("" when the country is unknown)."""

    __tablename__ = "redirect_daily_countries"
    __table_args__ = (
        Index("ix_redirect_daily_countries_day", "day", "country", "domain_id", "hits"),
    )

    domain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
