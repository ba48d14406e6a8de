"""Applying the schema migrations (`stellwerk migrate`, and on every start)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


# The search tables of migration 1930 and the shadow tables FTS5 keeps for each.
SEARCH_TABLE = re.compile(r"\w+_search(?:_(?:data|idx|docsize|config|content))?")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object | None
) -> bool:
    """What autogenerate compares: everything but the global search's trigram indexes and
    tables, which exist outside the models (migrations 0950 on PostgreSQL, 1930 on SQLite: an
    FTS5 table and its shadow tables)."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "index":
        return not str(name).endswith("_trgm")
    return not (type_ == "table" and SEARCH_TABLE.fullmatch(str(name)))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "heads")


async def upgrade_async(database_url: str) -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, database_url)
