from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class WebhookEndpoint(TimestampMixin, Base):
    """A URL that receives signed events. Its signing secret is shown once, then kept
    encrypted under a key derived from the master key."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # The event names it receives (see `stellwerk.notify.events`).
    events: Mapped[list[str]] = mapped_column(nullable=False, default=list)
    secret_encrypted: Mapped[str] = mapped_column(String(500), nullable=False)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
