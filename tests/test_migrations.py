"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

import stellwerk.models  # noqa: F401 - every table on the metadata
from stellwerk.kit.db import Base
from stellwerk.migrate import alembic_config, include_object
from stellwerk.runtime import Runtime
from tests.conftest import PG_ADMIN_URL, PG_HOST, PG_PORT, _drop_database, _recreate_database

# Migration 0950: the global search's trigram indexes (PostgreSQL only).
TRIGRAM_INDEXES = {
    "ix_customers_name_trgm",
    "ix_customers_email_trgm",
    "ix_licenses_license_key_trgm",
    "ix_license_activations_hardware_hash_trgm",
    "ix_license_activations_machine_name_trgm",
    "ix_lead_institutions_name_trgm",
}


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision"


async def test_models_and_migrations_agree(runtime: Runtime) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": include_object}
        )
        return list(compare_metadata(context, Base.metadata))

    async with runtime.database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []


async def _trigram_indexes(url: str) -> set[str]:
    def names(connection: Connection) -> set[str]:
        inspector = inspect(connection)
        return {
            str(index["name"])
            for table in inspector.get_table_names()
            for index in inspector.get_indexes(table)
            if str(index["name"]).endswith("_trgm")
        }

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(names)
    finally:
        await engine.dispose()


async def _search_tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.scalars(
                text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
            )
            return set(names)
    finally:
        await engine.dispose()


async def test_sqlite_search_tables_upgrade_and_downgrade(backend: str, tmp_path: Path) -> None:
    """1930 applies, rolls back and applies again, indexing the rows already there."""
    if backend != "sqlite":
        pytest.skip("the trigram search tables are SQLite's")
    url = f"sqlite+aiosqlite:///{tmp_path / 'search.sqlite'}"
    config = alembic_config(url)
    tables = {"licenses_search", "license_activations_search"}
    await asyncio.to_thread(command.upgrade, config, "heads")
    assert await _search_tables(url) == tables
    await asyncio.to_thread(command.downgrade, config, "1920")
    assert await _search_tables(url) == set()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO customers (id, name, created_at, updated_at)"
                " VALUES (1, 'C', '2026-01-01', '2026-01-01')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO licenses (id, license_key, customer_id, license_type, valid_from,"
                " max_activations, max_users, is_active, created_at, updated_at) VALUES"
                " (7, 'QRST-0000-ABCD-EFGH', 1, 'subscription', '2026-01-01', 1, 1, 1,"
                " '2026-01-01', '2026-01-01')"
            )
        )
    await engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "heads")  # indexes what is there
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        found = await connection.scalars(
            text("SELECT rowid FROM licenses_search WHERE license_key LIKE '%qrst-00%'")
        )
        assert list(found) == [7]
    await engine.dispose()


async def test_search_indexes_upgrade_and_downgrade(backend: str, tmp_path: Path) -> None:
    """0950 applies, rolls back and applies again; trigram indexes on PostgreSQL only."""
    name = f"stellwerk_test_migrations_{os.getpid()}"
    if backend == "postgresql":
        await _recreate_database(name)
        url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        expected = TRIGRAM_INDEXES
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite'}"
        expected = set()
    config = alembic_config(url)
    try:
        await asyncio.to_thread(command.upgrade, config, "heads")
        assert await _trigram_indexes(url) == expected
        await asyncio.to_thread(command.downgrade, config, "0900")
        assert await _trigram_indexes(url) == set()
        await asyncio.to_thread(command.upgrade, config, "heads")
        assert await _trigram_indexes(url) == expected
    finally:
        if backend == "postgresql":
            await _drop_database(name)


async def test_search_indexes_skipped_without_extension_rights(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A role that may not create pg_trgm still migrates; only the trigram indexes are left
    out, with a warning."""
    if backend != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    name = f"stellwerk_test_noext_{os.getpid()}"
    role = f"stellwerk_test_noext_{os.getpid()}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    await _recreate_database(name)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            await connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        database = create_async_engine(
            f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}",
            isolation_level="AUTOCOMMIT",
        )
        async with database.connect() as connection:
            # Tables in public, but no CREATE on the database: no (trusted) extension.
            await connection.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"'))
            await connection.execute(text("DROP EXTENSION IF EXISTS pg_trgm"))
        await database.dispose()
        url = f"postgresql+asyncpg://{role}@{PG_HOST}:{PG_PORT}/{name}"
        with caplog.at_level(logging.WARNING, logger="stellwerk.migrate"):
            await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
        assert "pg_trgm could not be installed" in caplog.text
        assert await _trigram_indexes(url) == set()
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT version_num FROM alembic_version")) == head
        await engine.dispose()
    finally:
        await _drop_database(name)
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()
