from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class LicenseActivation(Base):
    """A device a license is activated on; a deactivated device keeps its row but no seat."""

    __tablename__ = "license_activations"
    __table_args__ = (UniqueConstraint("license_id", "hardware_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    license_id: Mapped[int] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False, index=True
    )
    hardware_hash: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    machine_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    app_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    activated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    last_heartbeat: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
