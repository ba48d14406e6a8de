"""Imports run as operations (`import.<source>`): the same report as the frame gives, the
operation with its kind, progress and report, nothing readable of the source in its input, and a
second run that changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from stellwerk.audit.actor import Actor
from stellwerk.importer import frame, service
from stellwerk.importer.nexredirect import NexRedirectImporter
from stellwerk.models import AuditEvent, Operation, RedirectHit
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.importer.conftest import run
from tests.importer.nexredirect_source import build
from tests.operation.test_router import wait_for


def _without_ids(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in e.items() if k != "target_id"} for e in entries]


async def _operations(runtime: Runtime) -> list[Operation]:
    async with runtime.database.session() as session:
        rows = await session.scalars(
            select(Operation)
            .where(Operation.kind == "import.nexredirect")
            .order_by(Operation.created_at)
        )
        return list(rows.all())


async def test_an_import_runs_as_an_operation_with_the_same_report(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    expected = await frame.run(runtime.database, NexRedirectImporter(source), dry_run=True)

    dry = await run(runtime, "import", "nexredirect", "--sqlite", str(source))
    assert dry["dry_run"] is True
    assert dry["counts"] == expected.counts()
    # Ids a dry run hands out are not kept (PostgreSQL's sequences move on): compared without.
    assert _without_ids(dry["entries"]) == _without_ids(expected.as_dict()["entries"])

    applied = await run(
        runtime, "import", "nexredirect", "--sqlite", str(source), "--batch", "7", "--apply"
    )
    assert applied["dry_run"] is False
    assert applied["counts"] == expected.counts()
    assert applied["changes"] == expected.changes > 0
    async with runtime.database.session() as session:
        hits = await session.scalar(select(func.count()).select_from(RedirectHit))
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "import.nexredirect")
        )
    assert hits == expected.counts()["hit"]["create"]
    assert audits == 1

    dry_op, apply_op = await _operations(runtime)
    assert (dry_op.status, apply_op.status) == ("completed", "completed")
    assert dry_op.input["dry_run"] is True
    assert apply_op.input["dry_run"] is False
    # The source's path is sealed: the input names the source, not where it was read from.
    assert str(source) not in str(apply_op.input)
    assert str(tmp_path) not in str(apply_op.input)

    headers = await admin_headers(runtime)
    shown = await wait_for(client, str(apply_op.id), headers)
    assert shown["kind"] == "import.nexredirect"
    result = shown["result"]
    assert isinstance(result, dict)
    assert result["counts"] == expected.counts()
    messages = [e["message"] for e in shown["events"]]  # type: ignore[union-attr,index]
    assert any(m.startswith("hits: ") for m in messages), messages
    assert any("planned" in m for m in messages), messages

    again = await run(runtime, "import", "nexredirect", "--sqlite", str(source), "--apply")
    assert again["changes"] == 0
    assert len(await _operations(runtime)) == 3


async def test_an_unfinished_import_is_picked_up_instead_of_started_twice(
    runtime: Runtime, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    parameters = {"sqlite": str(source), "owner": None, "batch": 50}
    async with runtime.database.session() as session:
        first, created = await service.start(
            session,
            runtime.settings,
            Actor.cli(),
            source="nexredirect",
            parameters=parameters,
            dry_run=True,
        )
        assert created
        second, created_again = await service.start(
            session,
            runtime.settings,
            Actor.cli(),
            source="nexredirect",
            parameters=parameters,
            dry_run=True,
        )
    assert not created_again
    assert second.id == first.id
    assert service.open_parameters(runtime.settings, first.input) == parameters


async def test_the_operation_fails_with_the_importers_message(
    runtime: Runtime, tmp_path: Path
) -> None:
    import asyncio

    from stellwerk.cli.main import app as cli
    from tests.importer.conftest import _env, runner

    missing = tmp_path / "missing.db"
    result = await asyncio.to_thread(
        runner.invoke, cli, ["import", "nexredirect", "--sqlite", str(missing)], env=_env(runtime)
    )
    assert result.exit_code == 1
    assert "missing.db" in result.output
    [operation] = await _operations(runtime)
    assert operation.status == "failed"
    assert operation.error is not None
    assert operation.error["code"] == "import_failed"
    assert uuid.UUID(str(operation.id))


async def test_no_wait_starts_the_import_and_ends(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = build(tmp_path / "nexredirect.db")
    started = await run(runtime, "import", "nexredirect", "--sqlite", str(source), "--no-wait")
    assert set(started) == {"operation_id", "status"}
    done = await wait_for(client, started["operation_id"], await admin_headers(runtime))
    assert done["status"] == "completed"
    assert done["kind"] == "import.nexredirect"
    result = done["result"]
    assert isinstance(result, dict)
    assert result["dry_run"] is True


async def test_a_v2_import_runs_as_an_operation(runtime: Runtime, tmp_path: Path) -> None:
    from stellwerk.importer.v2 import V2Importer
    from tests.conftest import postgres_available
    from tests.importer.v2_source import v2_database

    if not postgres_available():
        pytest.skip("needs PostgreSQL")
    with v2_database() as url:
        expected = await frame.run(runtime.database, V2Importer(url), dry_run=True)
        applied = await run(runtime, "import", "v2", "--database-url", url, "--apply")
        again = await run(runtime, "import", "v2", "--database-url", url, "--apply")
    assert applied["counts"] == expected.counts()
    assert applied["changes"] == expected.changes > 0
    assert again["changes"] == 0
    async with runtime.database.session() as session:
        operations = (
            await session.scalars(select(Operation).where(Operation.kind == "import.v2"))
        ).all()
    assert [o.status for o in operations] == ["completed", "completed"]
    assert not any(url in str(o.input) for o in operations)
