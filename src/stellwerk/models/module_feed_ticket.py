from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class ModuleFeedTicket(Base):
    """A used module feed ticket (by its nonce's hash), kept until it would have expired anyway:
    a ticket opens one feed, once. Tickets themselves are never stored."""

    __tablename__ = "module_feed_tickets"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
