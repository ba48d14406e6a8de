"""Test harness: every test runs once on SQLite and once on PostgreSQL, against the real app.

The app (with its workflow engine) starts once per backend; each test starts from empty tables.
On a machine without PostgreSQL the PostgreSQL half is skipped with a one-line reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.kit.db import Base
from stellwerk.license.bookkeeping import touches
from stellwerk.runtime import Runtime
from tests.process import QUEUE_POLL_SECONDS

# Jobs that probe the outside world and change what tests read; their tests run them.
PROBING_JOBS = (
    "redirect.target_checks,redirect.dns_recheck,servers.reconcile,registrar.transfers_refresh"
)
PG_HOST = os.environ.get("STELLWERK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("STELLWERK_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/postgres"


def modules_dir() -> Path:
    """A fresh modules directory the unprivileged module user can reach (module processes run
    as that user when tests run as root, and pytest's temporary directories are 0700)."""
    return Path(tempfile.mkdtemp(prefix="stw-modules-"))


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


async def _recreate_database(name: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


async def _drop_database(name: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not postgres_available():
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    return str(request.param)


@pytest_asyncio.fixture(scope="session")
async def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    data_dir: Path = tmp_path_factory.mktemp(f"data-{backend}")
    modules_root = modules_dir()
    overrides: dict[str, object] = {
        "data_dir": data_dir,
        "modules_root": modules_root,
        "secret_key": "test-secret-key-not-for-production",
        "sandbox": False,
        "executor_id": f"test-{os.getpid()}",
        "admin_username": None,
        "admin_password": None,
        "redis_url": None,
        "database_pool_size": 4,  # test processes run side by side on one PostgreSQL
        "disabled_jobs": PROBING_JOBS,
        "queue_poll_seconds": QUEUE_POLL_SECONDS,
    }
    database_name = f"stellwerk_test_{os.getpid()}"
    if backend == "postgresql":
        await _recreate_database(database_name)
        overrides["database_url"] = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{database_name}"
    else:
        overrides["database_url"] = None
    yield Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    shutil.rmtree(modules_root, ignore_errors=True)
    if backend == "postgresql":
        await _drop_database(database_name)


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest_asyncio.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty every table and reset rate limits after each test that used the app."""
    if "app" not in request.fixturenames:
        yield
        return
    runtime: Runtime = request.getfixturevalue("app").state.runtime
    yield
    await runtime.limiter.reset()
    touches.discard()  # batched heartbeats of this test's rows (ids are reused after the wipe)
    for attempt in range(5):
        try:
            await _empty_tables(runtime)
            return
        except DBAPIError as error:
            # Background writers (hit batches, heartbeats) may hold a row the wipe wants.
            if "deadlock" not in str(error).lower() or attempt == 4:
                raise
            await asyncio.sleep(0.2)


async def _empty_tables(runtime: Runtime) -> None:
    async with runtime.database.engine.begin() as connection:
        existing = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
        if runtime.database.dialect == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest_asyncio.fixture
async def session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A unit of work that commits when the test's block ends (like a request)."""
    async with runtime.database.session() as db_session:
        yield db_session


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def tmp_data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var"
    path.mkdir()
    return path
