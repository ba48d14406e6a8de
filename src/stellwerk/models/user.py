from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True, nullable=False)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # customer | staff | admin (stellwerk.identity.role)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default="customer")
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    # Bumped on password change: every JWT and web session issued before is void.
    credential_generation: Mapped[int] = mapped_column(nullable=False, default=1)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Servers a customer may hold at once; None: the installation's default.
    server_quota: Mapped[int | None] = mapped_column(nullable=True)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
