from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class RedirectRoutingState(Base):
    """One row: a version bumped with every change the data plane must see.

    Each data plane worker polls it (a primary key read) and reloads its table when it moves."""

    __tablename__ = "redirect_routing_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
