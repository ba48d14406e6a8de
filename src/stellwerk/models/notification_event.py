from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class NotificationEvent(Base):
    """Something that happened and was announced once: webhooks and e-mails carry it."""

    __tablename__ = "notification_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    # Announces a state once however often it is seen (`license.expiring:<id>:<date>`).
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
