"""Notifications: webhook endpoints, announced events, their deliveries (webhook and e-mail)
and the e-mail recipients of each event; a project's last deployment log.

Revision ID: 1720
Revises: 1710
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import stellwerk.kit.db

revision: str = "1720"
down_revision: str | Sequence[str] | None = "1710"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = stellwerk.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret_encrypted", sa.String(length=500), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "notification_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_events")),
        sa.UniqueConstraint("key", name=op.f("uq_notification_events_key")),
    )
    op.create_index(op.f("ix_notification_events_event"), "notification_events", ["event"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("attempts_log", JSON, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("resent_from", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notification_events.id"],
            name=op.f("fk_notification_deliveries_event_id_notification_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_notification_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        op.f("ix_notification_deliveries_event_id"), "notification_deliveries", ["event_id"]
    )
    op.create_index(
        op.f("ix_notification_deliveries_endpoint_id"), "notification_deliveries", ["endpoint_id"]
    )
    op.create_index(
        "ix_notification_deliveries_status_created_at",
        "notification_deliveries",
        ["status", "created_at"],
    )
    op.create_table(
        "notification_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_recipients")),
        sa.UniqueConstraint("event", "email", name=op.f("uq_notification_recipients_event_email")),
    )
    op.create_index(op.f("ix_notification_recipients_event"), "notification_recipients", ["event"])
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deploy_log", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("deploy_log")
    op.drop_index(op.f("ix_notification_recipients_event"), table_name="notification_recipients")
    op.drop_table("notification_recipients")
    op.drop_index(
        "ix_notification_deliveries_status_created_at", table_name="notification_deliveries"
    )
    op.drop_index(
        op.f("ix_notification_deliveries_endpoint_id"), table_name="notification_deliveries"
    )
    op.drop_index(op.f("ix_notification_deliveries_event_id"), table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index(op.f("ix_notification_events_event"), table_name="notification_events")
    op.drop_table("notification_events")
    op.drop_table("webhook_endpoints")
