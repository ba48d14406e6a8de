"""Alembic environment: runs migrations on the configured database with the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

import stellwerk.models  # noqa: F401 - registers every table on the metadata
from stellwerk.kit.db import Base
from stellwerk.migrate import include_object

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite rebuilds tables for ALTERs
        compare_type=True,
        include_object=include_object,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


# Any fixed number: the PostgreSQL advisory lock that serialises migrations of one database.
MIGRATION_LOCK_ID = 0x5374_6557


def _run_sync(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes starting at once (API and worker units) would otherwise race to
        # create the same tables; the lock is held until the migration transaction commits.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
