"""A project's further domains (names in its zone the application also serves) and the keys of
the environment variables its owner set (the values live only in Coolify).

Revision ID: 1800
Revises: 1720
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1800"
down_revision: str | Sequence[str] | None = "1720"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("domains", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("env_keys", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.alter_column("domains", server_default=None)
        batch_op.alter_column("env_keys", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("env_keys")
        batch_op.drop_column("domains")
