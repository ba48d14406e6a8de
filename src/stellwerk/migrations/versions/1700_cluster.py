"""Workers and their heartbeats (for failover), the interval each periodic job last ran (once
per installation), the worker running each operation and the host queue it must run on, and
the host each module instance runs on.

Revision ID: 1700
Revises: 1500
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1700"
down_revision: str | Sequence[str] | None = "1500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("executor_id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recovered_by", sa.String(length=200), nullable=True),
        sa.Column("recovered_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("executor_id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_heartbeat_at"), "workers", ["heartbeat_at"])
    op.create_table(
        "periodic_jobs",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("last_slot", sa.BigInteger(), nullable=False),
        sa.Column("executor_id", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_jobs")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("executor_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("queue", sa.String(length=300), nullable=True))
    with op.batch_alter_table("module_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("module_instances", schema=None) as batch_op:
        batch_op.drop_column("host")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("queue")
        batch_op.drop_column("executor_id")
    op.drop_table("periodic_jobs")
    op.drop_index(op.f("ix_workers_heartbeat_at"), table_name="workers")
    op.drop_table("workers")
