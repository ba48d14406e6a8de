"""Module supply chain: repositories may reach private addresses only when allowed, and
archive checksums are pinned when a module version is first trusted.

Existing repositories get `allow_private = false`: one whose URL points at a loopback or private
address stops working until an admin allows that explicitly.

Revision ID: 1010
Revises: 1000
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stellwerk.kit.db

revision: str = "1010"
down_revision: str | Sequence[str] | None = "1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("module_repositories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("module_repositories", schema=None) as batch_op:
        batch_op.alter_column("allow_private", server_default=None)

    op.create_table(
        "module_pins",
        sa.Column("repository_id", sa.String(length=64), nullable=False),
        sa.Column("module_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pinned_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "repository_id", "module_name", "version", name=op.f("pk_module_pins")
        ),
    )


def downgrade() -> None:
    op.drop_table("module_pins")
    with op.batch_alter_table("module_repositories", schema=None) as batch_op:
        batch_op.drop_column("allow_private")
