from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class InstallationSecret(Base):
    """A secret the whole installation shares (the license signing key), encrypted under a key
    derived from the master key: every host serves the same one, and the database alone reveals
    nothing."""

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    encrypted_value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # Where it came from: "created", or "imported" from a key file.
    origin: Mapped[str] = mapped_column(String(20), nullable=False, default="created")
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
    imported_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
