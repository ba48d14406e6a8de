"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

import stellwerk.models  # noqa: F401 - every table on the metadata
from stellwerk.kit.db import Base
from stellwerk.migrate import alembic_config
from stellwerk.runtime import Runtime


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision"


async def test_models_and_migrations_agree(runtime: Runtime) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with runtime.database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
