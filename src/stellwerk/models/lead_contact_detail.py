from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class LeadContactDetail(TimestampMixin, Base):
    """An email address or phone number of a contact, with a label such as `Work`."""

    __tablename__ = "lead_contact_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("lead_contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # email | phone
    detail_type: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(String(320), nullable=False)
    label: Mapped[str | None] = mapped_column(String(50), nullable=True)
