from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectDailyVisitor(Base):
    """The visitor hashes seen per domain and day, to count each visitor once.

    Only needed while the day's salt exists; pruned together with the salts."""

    __tablename__ = "redirect_daily_visitors"

    domain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    ip_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
