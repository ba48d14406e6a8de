from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectOwnerDailyCountry(Base):
    """Hits of all of one owner's domains per UTC day and country: the summary's `by_country`
    reads this instead of one row per domain, day and country."""

    __tablename__ = "redirect_owner_daily_countries"

    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
