from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class ModuleRepository(TimestampMixin, Base):
    """Where modules come from: a directory on this machine (`file`) or an HTTPS index."""

    __tablename__ = "module_repositories"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(10), nullable=False)  # file | https
    # A directory for `file` (`builtin` for the one shipped with Stellwerk), an index URL for https.
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    priority: Mapped[int] = mapped_column(nullable=False, default=100)
    allow_http: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Whether the URL may resolve to loopback, private or other non-public addresses (an admin's
    # explicit choice; refused otherwise, when configured and on every fetch).
    allow_private: Mapped[bool] = mapped_column(nullable=False, default=False)
    # A CA certificate (PEM, public) trusted for this repository in addition to the system's.
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    builtin: Mapped[bool] = mapped_column(nullable=False, default=False)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    last_fetched_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
