from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class Release(TimestampMixin, Base):
    """A published client version, ordered by semantic version within its channel."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("channel", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False, default="stable")
    release_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    download_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    release_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Clients below this version are refused (verify answers valid: false).
    min_supported_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
