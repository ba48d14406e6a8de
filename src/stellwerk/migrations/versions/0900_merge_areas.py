"""Join the areas' migrations into one line of history

Revision ID: 0900
Revises: 0400, 0500, 0600, 0700, 0800
Create Date: 2026-11-23 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0900"
down_revision: str | Sequence[str] | None = ("0400", "0500", "0600", "0700", "0800")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
