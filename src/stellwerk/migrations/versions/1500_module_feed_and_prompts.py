"""Operation prompts (questions an operation waits on, with their answers), the status each
operation event happened in (so live feeds replay every step), and the single use of module
feed tickets.

Revision ID: 1500
Revises: 1300
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import stellwerk.kit.db

revision: str = "1500"
down_revision: str | Sequence[str] | None = "1300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("operation_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
    op.create_table(
        "operation_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("asked_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=200), nullable=True),
        sa.Column("answered_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            name=op.f("fk_operation_prompts_operation_id_operations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operation_prompts")),
        sa.UniqueConstraint(
            "operation_id", "prompt_id", name=op.f("uq_operation_prompts_operation_id_prompt_id")
        ),
    )
    op.create_index(
        op.f("ix_operation_prompts_operation_id"), "operation_prompts", ["operation_id"]
    )
    op.create_table(
        "module_feed_tickets",
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_module_feed_tickets")),
    )
    op.create_index(
        op.f("ix_module_feed_tickets_expires_at"), "module_feed_tickets", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_module_feed_tickets_expires_at"), table_name="module_feed_tickets")
    op.drop_table("module_feed_tickets")
    op.drop_index(op.f("ix_operation_prompts_operation_id"), table_name="operation_prompts")
    op.drop_table("operation_prompts")
    with op.batch_alter_table("operation_events", schema=None) as batch_op:
        batch_op.drop_column("status")
