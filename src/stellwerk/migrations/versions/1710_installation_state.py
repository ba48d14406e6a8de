"""Installation-wide state: secrets every host shares (the license signing key, encrypted) and
the heartbeats of the installation's processes.

Revision ID: 1710
Revises: 1500
Create Date: 2026-12-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1710"
down_revision: str | Sequence[str] | None = "1700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("encrypted_value", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("imported_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation_secrets")),
    )
    op.create_table(
        "process_heartbeats",
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("executor_id", sa.String(length=200), nullable=True),
        sa.Column("metrics_address", sa.String(length=300), nullable=True),
        sa.Column("routing_version", sa.BigInteger(), nullable=True),
        sa.Column("started_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("process_id", name=op.f("pk_process_heartbeats")),
    )
    op.create_index(op.f("ix_process_heartbeats_seen_at"), "process_heartbeats", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_process_heartbeats_seen_at"), table_name="process_heartbeats")
    op.drop_table("process_heartbeats")
    op.drop_table("installation_secrets")
