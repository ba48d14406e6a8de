from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class LeadInstitution(TimestampMixin, Base):
    """A lead: an organisation the sales team works on."""

    __tablename__ = "lead_institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    # university | company | government | other
    institution_type: Mapped[str] = mapped_column(String(20), nullable=False, default="other")
    # new | contacted | qualified | won | lost
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="new")
    website: Mapped[str | None] = mapped_column(String(2048), nullable=True)
