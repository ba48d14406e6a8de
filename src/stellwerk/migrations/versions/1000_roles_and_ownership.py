"""Roles (customer, staff, admin), per-customer server quotas, and owned DNS zones

Users with the earlier role `user` become customers: the role with the least rights. An admin
promotes the company's employees to `staff`. A DNS zone that a customer's project or registrar
domain uses becomes that customer's zone; every other zone stays the company's.

Revision ID: 1000
Revises: 0950
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1000"
down_revision: str | Sequence[str] | None = "0950"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_quota", sa.Integer(), nullable=True))
    op.execute("UPDATE users SET role = 'customer' WHERE role NOT IN ('admin', 'staff')")

    with op.batch_alter_table("dns_zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_dns_zones_owner_user_id"), ["owner_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_dns_zones_owner_user_id_users"),
            "users",
            ["owner_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    for table in ("projects", "registrar_domains"):
        op.execute(
            f"UPDATE dns_zones SET owner_user_id = ("  # noqa: S608 - fixed table names
            f" SELECT t.owner_user_id FROM {table} t JOIN users u ON u.id = t.owner_user_id"
            f" WHERE t.{'domain' if table == 'projects' else 'name'} = dns_zones.name"
            " AND u.role = 'customer')"
            " WHERE owner_user_id IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("dns_zones", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_dns_zones_owner_user_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_dns_zones_owner_user_id"))
        batch_op.drop_column("owner_user_id")
    op.execute("UPDATE users SET role = 'user' WHERE role <> 'admin'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("server_quota")
