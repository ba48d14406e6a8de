from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base
from stellwerk.kit.time import utc_now


class ModulePin(Base):
    """The sha256 a module version's archive had when it was first trusted (trust on first use).

    A later archive for the same repository, module and version must have the same checksum,
    whatever the repository's index claims; only an admin clearing the pin changes that. Pins
    outlive their repository on purpose: a repository deleted and added again under the same id
    is held to what was trusted before.
    """

    __tablename__ = "module_pins"

    repository_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    module_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    pinned_at: Mapped[dt.datetime] = mapped_column(default=utc_now, nullable=False)
