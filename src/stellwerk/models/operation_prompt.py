from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class OperationPrompt(Base):
    """A question an operation stopped at, and the answer it went on with (or none: it timed
    out). `options` is a list of `{"id", "label"}`; `answer` is one of their ids."""

    __tablename__ = "operation_prompts"
    __table_args__ = (UniqueConstraint("operation_id", "prompt_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    prompt_id: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str] = mapped_column(String(500), nullable=False)
    options: Mapped[list[Any]] = mapped_column(nullable=False, default=list)
    asked_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    answer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Who answered (a user's name, "cli", or "in advance" for an answer the request carried).
    answered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
