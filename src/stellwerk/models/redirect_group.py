from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class RedirectGroup(TimestampMixin, Base):
    """A named, coloured set of one owner's redirect domains, for filters and bulk actions.

    `target_url` and `redirect_code` are the group's target: the last one applied to the whole
    group, and the one a domain added to the group without a target of its own gets."""

    __tablename__ = "redirect_groups"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    color: Mapped[str] = mapped_column(String(7), nullable=False, default="#4f6d7a")  # #rrggbb
    target_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    redirect_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
