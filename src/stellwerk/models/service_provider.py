from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class ServiceProvider(TimestampMixin, Base):
    """A provider account servers are created at (multi-provider-vps-api.md). Its `type` is a
    compute provider of the provider registry (`stellwerk.provider.registry`)."""

    __tablename__ = "service_providers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    # `v<generation>:<Fernet token>`; never the plain key (see server/secrets.py).
    api_key_encrypted: Mapped[str] = mapped_column(Text(), nullable=False)
    configuration: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    # Where its API answers: `configuration.api_url`, the sandbox in sandbox mode, or None for
    # the provider's real API.
    endpoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
