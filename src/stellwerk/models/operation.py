from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class Operation(TimestampMixin, Base):
    """A long task run as a durable workflow; its id is the workflow id."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("kind", "idempotency_key"),
        Index("ix_operations_status_kind", "status", "kind"),
        Index("ix_operations_target", "target_type", "target_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    progress: Mapped[int] = mapped_column(nullable=False, default=0)
    message: Mapped[str] = mapped_column(String(500), nullable=False, default="Queued")
    # Ids and plain values only: never secrets (they would persist in the workflow tables).
    input: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    target_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # The worker (its executor id) running it, as it last started or took it over.
    executor_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The queue of the one host it must run on (work on a module's process); None: its kind's.
    queue: Mapped[str | None] = mapped_column(String(300), nullable=True)
