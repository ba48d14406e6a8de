from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stellwerk.kit.db import Base, TimestampMixin
from stellwerk.models.customer import Customer


class License(TimestampMixin, Base):
    __tablename__ = "licenses"

    id: Mapped[int] = mapped_column(primary_key=True)
    license_key: Mapped[str] = mapped_column(String(19), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # perpetual | subscription | trial
    license_type: Mapped[str] = mapped_column(String(20), nullable=False, default="perpetual")
    valid_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    # The last day the license is valid (inclusive, UTC); None never expires.
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    max_activations: Mapped[int] = mapped_column(nullable=False, default=1)
    max_users: Mapped[int] = mapped_column(nullable=False, default=1)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    customer: Mapped[Customer] = relationship(lazy="raise")
