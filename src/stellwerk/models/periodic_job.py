from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class PeriodicJob(Base):
    """The last interval of a periodic job some worker claimed: each interval runs once in the
    whole installation, however many workers there are."""

    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    # Seconds since the epoch divided by the job's interval: the interval last claimed.
    last_slot: Mapped[int] = mapped_column(BigInteger, nullable=False)
    executor_id: Mapped[str] = mapped_column(String(200), nullable=False)
    claimed_at: Mapped[dt.datetime] = mapped_column(nullable=False)
