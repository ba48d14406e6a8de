from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class DnsZone(TimestampMixin, Base):
    """Which DNS provider serves a zone (inwx, powerdns, hetzner)."""

    __tablename__ = "dns_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), nullable=False, unique=True)
    provider: Mapped[str] = mapped_column(String(40), nullable=False)
