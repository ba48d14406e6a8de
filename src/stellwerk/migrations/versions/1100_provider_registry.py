"""Provider types come from the provider registry

`service_providers.type` was limited by a CHECK constraint to the types known when the table
was made. Which compute providers exist is now the provider registry's to say (one entry per
provider), so a new provider needs no schema change; the servers service refuses unknown
types.

Revision ID: 1100
Revises: 1010
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "1100"
down_revision: str | Sequence[str] | None = "1010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_providers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_providers_type"), type_="check")


def downgrade() -> None:
    with op.batch_alter_table("service_providers", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_service_providers_type"),
            "type IN ('linode', 'digitalocean', 'hetzner', 'aws', 'gcp')",
        )
