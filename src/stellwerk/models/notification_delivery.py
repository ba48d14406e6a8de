from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class NotificationDelivery(TimestampMixin, Base):
    """One event on its way to one webhook endpoint or to e-mail recipients; its id is the id
    of the workflow that delivers it. `attempts_log` holds every try: when, the response code
    (webhooks) and the error."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_status_created_at", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event: Mapped[str] = mapped_column(String(60), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)  # webhook | email
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=True, index=True
    )
    recipients: Mapped[list[str]] = mapped_column(nullable=False, default=list)
    # pending | delivered | failed
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    response_code: Mapped[int | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    attempts_log: Mapped[list[Any]] = mapped_column(nullable=False, default=list)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    resent_from: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
