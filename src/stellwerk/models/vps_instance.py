from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class VpsInstance(TimestampMixin, Base):
    """A customer's server at a provider."""

    __tablename__ = "vps_instances"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("idx_vps_instances_provider_type", "provider_type"),
        Index("idx_vps_instances_provider_id", "provider_id"),
        Index("ix_vps_instances_user_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    provider_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_providers.id", ondelete="SET NULL"), nullable=True
    )
    provider_instance_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    # provisioning | running | off | starting | stopping | rebooting | deleting | deleted |
    # failed | unknown
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="provisioning")
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    ipv6_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    plan_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    image: Mapped[str | None] = mapped_column(String(255), nullable=True)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vps_plans.id", ondelete="SET NULL"), nullable=True
    )
    plan_specs: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    hourly_rate: Mapped[Decimal | None] = mapped_column(Numeric(12, 5), nullable=True)
    monthly_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    # The creation request without secrets (backups, tags, app, StackScript, ...).
    options: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    # Kept encrypted only until the server exists at the provider.
    root_password_encrypted: Mapped[str | None] = mapped_column(Text(), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
