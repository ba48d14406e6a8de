from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class DnsZone(TimestampMixin, Base):
    """Which DNS provider serves a zone (inwx, powerdns, hetzner), and whose zone it is."""

    __tablename__ = "dns_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), nullable=False, unique=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
    # A customer's zone (their project's or their domain's); None: the company's own zone.
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Adopted from what already ran at the provider (an import), not created here.
    adopted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
