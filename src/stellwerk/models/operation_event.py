from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class OperationEvent(Base):
    """One line of an operation's history: each progress change and what each step did."""

    __tablename__ = "operation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    progress: Mapped[int] = mapped_column(nullable=False)
    message: Mapped[str] = mapped_column(String(500), nullable=False)
    step: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The operation's status once this happened (None on events older than the column).
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
