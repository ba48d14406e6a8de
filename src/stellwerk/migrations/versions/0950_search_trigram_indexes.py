"""Trigram indexes for the global search (PostgreSQL only)

The admin panel's global search matches `col ILIKE '%term%'`; without an index PostgreSQL
scans every license and device. pg_trgm's GIN indexes answer such patterns (terms of three
characters or more). SQLite gets nothing: its LIKE cannot use an index for a leading `%`.

The indexes are not part of the models (they exist on PostgreSQL only, and only where pg_trgm
could be installed): `stellwerk.migrate.include_object` keeps autogenerate from dropping them.
If pg_trgm is not available on the server, or the migrating role may not create it, the
upgrade logs a warning and skips the indexes instead of failing; the search then works as
before, by scanning.

Revision ID: 0950
Revises: 0900
Create Date: 2026-11-23 07:30:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

revision: str = "0950"
down_revision: str | Sequence[str] | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("stellwerk.migrate")

# (table, column): exactly the columns the global search filters with ILIKE.
SEARCHED = [
    ("customers", "name"),
    ("customers", "email"),
    ("licenses", "license_key"),
    ("license_activations", "hardware_hash"),
    ("license_activations", "machine_name"),
    ("lead_institutions", "name"),
]


def index_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}_trgm"


def _trgm_schema(bind: Connection) -> str | None:
    """The schema pg_trgm is installed in, installing it first if possible; None without it."""
    schema = bind.scalar(
        text(
            "SELECT n.nspname FROM pg_extension e"
            " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    )
    if schema is not None:
        return str(schema)
    available = bind.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"))
    if available is None:
        log.warning("pg_trgm is not available on this server: no trigram indexes for the search")
        return None
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
        with bind.begin_nested():
            bind.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as error:
        log.warning(
            "pg_trgm could not be installed (%s): no trigram indexes for the search",
            str(error.orig).strip().splitlines()[0],
        )
        return None
    return _trgm_schema(bind)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _trgm_schema(bind)
    if schema is None:
        return
    opclass = f'"{schema}".gin_trgm_ops'
    for table, column in SEARCHED:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(table, column)}"
            f" ON {table} USING gin ({column} {opclass})"
        )


def downgrade() -> None:
    # The extension stays: other objects may use it, and it costs nothing unused.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in SEARCHED:
        op.execute(f"DROP INDEX IF EXISTS {index_name(table, column)}")
