from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class ClientConfig(TimestampMixin, Base):
    """A client application that opens license sessions, and its session rules."""

    __tablename__ = "client_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    current_version: Mapped[str] = mapped_column(String(64), nullable=False, default="1.0.0")
    heartbeat_interval: Mapped[int] = mapped_column(nullable=False, default=30)
    session_timeout: Mapped[int] = mapped_column(nullable=False, default=90)
    single_session: Mapped[bool] = mapped_column(nullable=False, default=True)
