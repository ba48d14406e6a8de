from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class LeadNote(Base):
    """A note on a contact; its text lives in versions, so an edit never loses the old text."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("lead_contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    current_version: Mapped[int] = mapped_column(nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
