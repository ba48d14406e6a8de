from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class VpsPlan(TimestampMixin, Base):
    """A provider plan offered to customers at base + markup per month."""

    __tablename__ = "vps_plans"
    __table_args__ = (UniqueConstraint("provider_id", "provider_plan_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_providers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    provider_plan_id: Mapped[str] = mapped_column(String(255), nullable=False)
    base_price: Mapped[Decimal] = mapped_column(
        Numeric(10, 2), nullable=False, default=Decimal("0.00")
    )
    markup_price: Mapped[Decimal] = mapped_column(
        Numeric(10, 2), nullable=False, default=Decimal("0.00")
    )
    specifications: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
