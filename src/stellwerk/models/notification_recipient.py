from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class NotificationRecipient(Base):
    """An address that receives an e-mail for one event."""

    __tablename__ = "notification_recipients"
    __table_args__ = (UniqueConstraint("event", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
