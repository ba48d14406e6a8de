from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class RegistrarDomain(TimestampMixin, Base):
    """A domain bought or transferred through a registrar. Never deleted automatically."""

    __tablename__ = "registrar_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), nullable=False, unique=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    provider_domain_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # active | pending | failed
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    # register | transfer
    origin: Mapped[str] = mapped_column(String(20), nullable=False)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrar_contacts.id", ondelete="SET NULL"), nullable=True
    )
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    expires_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Adopted from what already ran at the provider (an import), not created here.
    adopted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
