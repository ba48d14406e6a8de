"""Trigram search tables for the global search (SQLite only)

The global search matches `column LIKE '%term%'` over license keys and devices' hashes and
machine names; SQLite answers that by reading every license and device (about 250 ms with
100,000 licenses and 200,000 devices). An FTS5 table with the trigram tokenizer over those
columns answers the same pattern from its index (terms of three characters or more) in about a
millisecond, as pg_trgm's indexes do on PostgreSQL (migration 0950).

Each table indexes its source table's columns (`content=`: the text itself is not stored
twice); triggers keep it in step with every insert, delete and change of those columns (the
frequent updates of other columns, such as a device's `last_heartbeat`, do not touch it). The
tables are not part of the models: `stellwerk.migrate.include_object` keeps autogenerate from
dropping them. An SQLite without the trigram tokenizer (older than 3.34) gets none, logs a
warning, and the search scans as before.

Revision ID: 1930
Revises: 1920
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

revision: str = "1930"
down_revision: str | Sequence[str] | None = "1920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("stellwerk.migrate")

# source table: the columns the global search matches there
SEARCHED = {
    "licenses": ("license_key",),
    "license_activations": ("hardware_hash", "machine_name"),
}


def search_table(table: str) -> str:
    return f"{table}_search"


def _trigram_available(bind: Connection) -> bool:
    try:
        with bind.begin_nested():
            bind.execute(
                text("CREATE VIRTUAL TABLE temp.trigram_probe USING fts5(x, tokenize='trigram')")
            )
            bind.execute(text("DROP TABLE temp.trigram_probe"))
    except OperationalError:
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not _trigram_available(bind):
        log.warning("this SQLite has no trigram tokenizer (3.34 or newer): the search scans")
        return
    # Every name below comes from SEARCHED, none from input.
    for table, columns in SEARCHED.items():
        index = search_table(table)
        listed = ", ".join(columns)
        new = ", ".join(f"new.{column}" for column in columns)
        old = ", ".join(f"old.{column}" for column in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({listed},"
            f" content='{table}', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN"  # noqa: S608
            f" INSERT INTO {index}(rowid, {listed}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN"  # noqa: S608
            f" INSERT INTO {index}({index}, rowid, {listed}) VALUES ('delete', old.id, {old});"
            " END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_update AFTER UPDATE OF {listed} ON {table} BEGIN"  # noqa: S608
            f" INSERT INTO {index}({index}, rowid, {listed}) VALUES ('delete', old.id, {old});"
            f" INSERT INTO {index}(rowid, {listed}) VALUES (new.id, {new}); END"
        )
        op.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")  # noqa: S608


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in SEARCHED:
        index = search_table(table)
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {index}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {index}")
