"""Workflow steps take their settings, database and providers from the context they are given:
no step reaches the process's engine (or any other module-level state) for them."""

from __future__ import annotations

import ast
import inspect
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
import pytest_asyncio
from sqlalchemy import select

from stellwerk import workflows
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.kit.db import Base
from stellwerk.models import Operation, OperationEvent
from stellwerk.operation import probe
from stellwerk.operation import workflow as operation_workflow
from stellwerk.operation.context import StepContext

# Where workflow code may reach the engine: where a workflow starts.
ENTRY = "workflow_context"
# What a step must not reach: the engine's settings and database, or providers opened from
# settings of its own choosing.
FORBIDDEN_CALLS = {"worker_database", "_settings", "current", "get_settings"}
FORBIDDEN_ENGINE_ATTRIBUTES = {"settings", "worker_database", "current", "_current"}
PROVIDER_OPENERS = {"registrar", "dns", "paas"}


def _workflow_modules() -> list[ModuleType]:
    return [*workflows.MODULES, operation_workflow]


def _reaches(module_name: str, source: str) -> list[str]:
    """Every place in the module `module_name` (its `source`) that reaches module-level state for
    settings, database or providers, as `module:line: what`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        where = f"{module_name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module in (
            "stellwerk.operation.engine",
            "stellwerk.config",
        ):
            names = {alias.name for alias in node.names}
            wrong = names & (FORBIDDEN_CALLS | FORBIDDEN_ENGINE_ATTRIBUTES)
            if wrong:
                found.append(f"{where}: imports {', '.join(sorted(wrong))}")
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in FORBIDDEN_CALLS:
            found.append(f"{where}: calls {function.id}()")
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            owner, name = function.value.id, function.attr
            if owner == "engine" and name in FORBIDDEN_ENGINE_ATTRIBUTES:
                found.append(f"{where}: calls engine.{name}()")
            if owner == "connect" and name in PROVIDER_OPENERS:
                found.append(f"{where}: opens connect.{name}() itself")
            if name in FORBIDDEN_CALLS - {"current"}:
                found.append(f"{where}: calls {owner}.{name}()")
    return sorted(found)


@pytest.mark.parametrize("module", _workflow_modules(), ids=lambda m: m.__name__)
def test_workflow_code_reaches_no_module_globals_for_its_context(module: ModuleType) -> None:
    assert _reaches(module.__name__, Path(inspect.getfile(module)).read_text()) == []


def test_the_check_sees_a_step_reaching_the_engine() -> None:
    """The check itself: code as it was before steps had a context is caught."""
    source = (
        "from stellwerk.operation.engine import worker_database\n"
        "from stellwerk.operation import engine\n"
        "async def step_x(project_id):\n"
        "    async with worker_database().session() as session: ...\n"
        "    settings = engine.settings()\n"
        "    async with connect.paas(settings) as paas: ...\n"
    )
    reached = _reaches("before", source)
    assert reached == [
        "before:1: imports worker_database",
        "before:4: calls worker_database()",
        "before:5: calls engine.settings()",
        "before:6: opens connect.paas() itself",
    ]


def test_each_workflow_module_builds_contexts_only_where_a_workflow_starts() -> None:
    """`workflow_context()` is called only in functions that are DBOS workflows (or the
    operation wrapper), never in a step."""
    for module in _workflow_modules():
        tree = ast.parse(Path(inspect.getfile(module)).read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            called = {
                n.func.id
                for n in ast.walk(function)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            if ENTRY not in called:
                continue
            decorators = [ast.unparse(d) for d in function.decorator_list]
            assert any("workflow" in d for d in decorators) or function.name == "starting", (
                f"{module.__name__}.{function.name} builds a context but is no workflow"
            )


@pytest_asyncio.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A database of its own, not the engine's: what a step writes can only be found here if
    it used the context's."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'own.sqlite'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


async def test_a_step_uses_the_database_of_its_context(
    own_database: Database, tmp_path: Path
) -> None:
    """The operation exists only in the context's database: a step that looked in the
    engine's (or for an engine at all) would not find it."""
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ctx = StepContext.of(settings, own_database)
    operation_id = uuid.uuid4()
    async with own_database.session() as session:
        session.add(
            Operation(id=operation_id, kind=probe.KIND, idempotency_key="own", input={"steps": 1})
        )

    # Called outside a workflow, DBOS runs the step functions as they are.
    assert await operation_workflow._begin(ctx, str(operation_id)) == {"steps": 1}
    assert await probe.probe_step(ctx, str(operation_id), 1, 1, 0.0) == 1

    async with own_database.session() as session:
        operation = await session.get(Operation, operation_id)
        events = (
            await session.scalars(
                select(OperationEvent).where(OperationEvent.operation_id == operation_id)
            )
        ).all()
    assert operation is not None
    assert operation.status == "running"
    assert [event.step for event in events] == ["probe-1"]


def test_the_providers_of_a_context_are_bound_to_its_settings(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ctx = StepContext.of(settings, Database(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}"))
    assert ctx.providers.settings is settings
    assert ctx.settings is settings
