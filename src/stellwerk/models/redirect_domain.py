from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stellwerk.kit.db import Base, TimestampMixin
from stellwerk.models.user import User


class RedirectDomain(TimestampMixin, Base):
    """A domain whose visitors the data plane sends on to `target_url`."""

    __tablename__ = "redirect_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Lower-case ASCII (IDNs in punycode), no trailing dot.
    domain: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)
    target_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    redirect_code: Mapped[int] = mapped_column(Integer, nullable=False, default=301)
    preserve_path: Mapped[bool] = mapped_column(nullable=False, default=True)
    include_www: Mapped[bool] = mapped_column(nullable=False, default=True)
    # pending → active (verified) ⇄ dns_error (the records moved away later)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    verified_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    dns_checked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    dns_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("redirect_groups.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Set: the data plane serves a sunset page instead of redirecting (see redirect.sunset).
    sunset_config: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # Kept up to date by the hit writer, so listing domains never scans hits. `total_hits`
    # counts every hit, `bot_hits` the bots among them.
    total_hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bot_hits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_hit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # epoch ms
    # The last check of the target (redirect.checks): `ok` or `failing`, never checked: None.
    target_status: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)
    target_checked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    target_failing_since: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    target_check: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)

    owner: Mapped[User] = relationship(lazy="raise")
