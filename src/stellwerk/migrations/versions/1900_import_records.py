"""Import records: which object of another system became which Stellwerk object, so imports
can run again without duplicating anything.

Revision ID: 1900
Revises: 1800
Create Date: 2026-12-21 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1900"
down_revision: str | Sequence[str] | None = "1800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_records")),
        sa.UniqueConstraint(
            "source",
            "entity",
            "source_key",
            name=op.f("uq_import_records_source_entity_source_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("import_records")
