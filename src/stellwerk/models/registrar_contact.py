from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class RegistrarContact(TimestampMixin, Base):
    """A contact handle at a registrar; one per registrar is the default for new domains."""

    __tablename__ = "registrar_contacts"
    __table_args__ = (UniqueConstraint("provider", "provider_contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    provider_contact_id: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(10), nullable=False, default="PERSON")
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    organization: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)
