from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class SystemApiKey(Base):
    """The key license clients send as `X-API-Key`. Exactly one row has `revoked_at` unset."""

    __tablename__ = "system_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # `AF-2026-` plus the first characters, for recognising the key in the UI.
    prefix: Mapped[str] = mapped_column(String(24), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # True for the one active key, NULL otherwise: the unique constraint allows only one.
    is_current: Mapped[bool | None] = mapped_column(unique=True, nullable=True, default=True)
