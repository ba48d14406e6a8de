from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class ImportRecord(TimestampMixin, Base):
    """What an import brought in: one source object and the Stellwerk object it became.

    `source` names the system (`nexredirect`, `v2`, ...), `entity` the kind of object there,
    `source_key` its id or name in that system and `target_id` the id it has in Stellwerk. A
    second import finds its earlier work here, so it updates or skips instead of duplicating.
    Cursors of streamed imports (hits) are records too, with the last source id as target."""

    __tablename__ = "import_records"
    __table_args__ = (UniqueConstraint("source", "entity", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), nullable=False)
    entity: Mapped[str] = mapped_column(String(40), nullable=False)
    source_key: Mapped[str] = mapped_column(String(255), nullable=False)
    target_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # A fingerprint of the source object as last imported: unchanged objects are skipped.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
