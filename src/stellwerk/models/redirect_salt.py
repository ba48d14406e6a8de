from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectSalt(Base):
    """The random salt of one UTC day for visitor hashes, encrypted with a derived key.

    Deleted after the retention period, so old hashes can no longer be matched to addresses."""

    __tablename__ = "redirect_salts"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    encrypted_salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
