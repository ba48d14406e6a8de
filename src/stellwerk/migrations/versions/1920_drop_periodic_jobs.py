"""Periodic jobs are schedules of the workflow engine now (each interval is a workflow of its
own, run once): the table where workers claimed their intervals goes.

Revision ID: 1920
Revises: 1910
Create Date: 2026-12-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1920"
down_revision: str | Sequence[str] | None = "1910"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("periodic_jobs")


def downgrade() -> None:
    op.create_table(
        "periodic_jobs",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("last_slot", sa.BigInteger(), nullable=False),
        sa.Column("executor_id", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_jobs")),
    )
