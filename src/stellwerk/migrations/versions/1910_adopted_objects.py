"""When a registrar domain, DNS zone or project was adopted from what already ran at the
provider (`stellwerk domains import`, `stellwerk projects import`); empty for what Stellwerk
created itself.

Revision ID: 1910
Revises: 1900
Create Date: 2026-12-21 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1910"
down_revision: str | Sequence[str] | None = "1900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("registrar_domains", "dns_zones", "projects")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("adopted_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("adopted_at")
