from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class LicenseSession(Base):
    """A running client application; the token is kept only as its SHA-256."""

    __tablename__ = "license_sessions"
    __table_args__ = (Index("ix_license_sessions_open", "license_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    license_id: Mapped[int] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False
    )
    client_config_id: Mapped[int] = mapped_column(
        ForeignKey("client_configs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    machine_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    hardware_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    last_heartbeat: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)
    # normal | timeout | replaced | license_revoked
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
