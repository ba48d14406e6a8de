from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class Worker(Base):
    """A process running the workflow engine, by its executor id, and its heartbeat. A worker
    silent for too long is taken over: `recovered_by` is the one worker that recovered its
    pending workflows (the lease), cleared when the executor starts again."""

    __tablename__ = "workers"

    executor_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
    recovered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recovered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
