from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class Resource(TimestampMixin, Base):
    """A pooled resource (server, domain, ...) that is allocated to at most one license."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("resource_type", "identifier"),
        Index("ix_resources_type_status", "resource_type", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(40), nullable=False)
    identifier: Mapped[str] = mapped_column(String(255), nullable=False)
    # available | allocated | disabled
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="available")
    license_id: Mapped[int | None] = mapped_column(
        ForeignKey("licenses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    allocated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
