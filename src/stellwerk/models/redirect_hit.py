from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base

HitId = BigInteger().with_variant(Integer(), "sqlite")


class RedirectHit(Base):
    """One request the data plane answered. Never an IP address: only its salted daily hash."""

    __tablename__ = "redirect_hits"
    __table_args__ = (
        Index("ix_redirect_hits_domain_id_id", "domain_id", "id"),
        Index("ix_redirect_hits_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(HitId, primary_key=True, autoincrement=True)
    # No foreign key: hits are written in batches that must not fail because a domain was
    # deleted meanwhile. None for requests to hosts that are not configured (orphan hits).
    domain_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str] = mapped_column(String(253), nullable=False)
    ts: Mapped[int] = mapped_column(BigInteger, nullable=False)  # epoch ms
    ip_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    referer: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    path: Mapped[str] = mapped_column(String(2048), nullable=False)
    is_bot: Mapped[bool] = mapped_column(nullable=False, default=False)
