"""The DBOS engine: configuration, launch, queues, and the database workflows use.

Async workflows run on DBOS's own event loop, so they get their own `Database` bound to that loop
(`worker_database()`), never the request's engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, DBOSPortableJSONSerializer

from stellwerk.config import Settings, to_sync_url
from stellwerk.database import Database

log = logging.getLogger(__name__)

# Pinned: DBOS recovers only workflows of the running version. Bump deliberately, and only when
# a workflow's step order changes incompatibly (then drain the old ones first).
APPLICATION_VERSION = "stellwerk-1"
APPLICATION_NAME = "stellwerk"
DEFAULT_QUEUE = "operations"
HOST_QUEUE_PREFIX = "host:"

_state: dict[str, Any] = {"settings": None, "launched": False, "databases": {}, "client": None}


def system_database_url(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"sqlite:///{(settings.data_dir / 'workflows.sqlite').resolve()}"
    return to_sync_url(settings.resolved_database_url)


def dbos_config(settings: Settings) -> DBOSConfig:
    return {
        "name": APPLICATION_NAME,
        "system_database_url": system_database_url(settings),
        "application_version": APPLICATION_VERSION,
        "executor_id": settings.executor_id,
        "serializer": DBOSPortableJSONSerializer(),
        "max_executor_threads": 32,
        "sys_db_pool_size": 10,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.2,
    }


def configure(settings: Settings) -> None:
    """Remember the settings workflows need; called by every process before work starts."""
    _state["settings"] = settings


def settings() -> Settings:
    configured: Settings | None = _state["settings"]
    if configured is None:
        raise RuntimeError("The operation engine is not configured")
    return configured


def this_host() -> str:
    return socket.gethostname()[:255]


def host_queue(host: str) -> str:
    """The queue only the workers on `host` take work from (work on a module's process)."""
    return f"{HOST_QUEUE_PREFIX}{host}"


def is_launched() -> bool:
    return bool(_state["launched"])


async def launch(settings: Settings) -> None:
    """Start DBOS in this process: it recovers this executor's unfinished workflows."""
    import stellwerk.workflows  # noqa: F401 - registers every workflow before recovery

    configure(settings)
    DBOS(config=dbos_config(settings))
    await asyncio.to_thread(DBOS.launch)
    await DBOS.register_queue_async(DEFAULT_QUEUE, worker_concurrency=16, polling_interval_sec=0.2)
    for name, options in _extra_queues.items():
        await DBOS.register_queue_async(name, polling_interval_sec=0.2, **options)
    await DBOS.register_queue_async(
        host_queue(this_host()), worker_concurrency=16, polling_interval_sec=0.2
    )
    _state["launched"] = True
    log.info("workflow engine started", extra={"executor_id": settings.executor_id})


async def shutdown() -> None:
    if not _state["launched"]:
        return
    _state["launched"] = False
    await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=0)
    # DBOS made its (now stopped) pool this loop's default executor; give the loop its own back.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
    databases: dict[int, Database] = _state["databases"]
    _state["databases"] = {}
    for database in databases.values():
        with contextlib.suppress(RuntimeError):  # bound to DBOS's loop, which has stopped
            await database.dispose()


_extra_queues: dict[str, dict[str, Any]] = {}


def register_queue(name: str, **options: Any) -> None:
    """Declare a queue (for example `global_concurrency=1`) that `launch` creates."""
    _extra_queues[name] = options


def worker_database() -> Database:
    """The database for code running on the current event loop (workflow steps)."""
    loop_id = id(asyncio.get_running_loop())
    databases: dict[int, Database] = _state["databases"]
    database = databases.get(loop_id)
    if database is None:
        database = Database(settings().resolved_database_url)
        databases[loop_id] = database
    return database


async def _client() -> DBOSClient:
    client: DBOSClient | None = _state["client"]
    if client is None:
        client = await asyncio.to_thread(
            DBOSClient,
            system_database_url=system_database_url(settings()),
            serializer=DBOSPortableJSONSerializer(),
            application_name=APPLICATION_NAME,
        )
        _state["client"] = client
    return client


async def enqueue_from_outside(
    *, workflow_name: str, queue_name: str, workflow_id: str, args: tuple[Any, ...]
) -> None:
    """Enqueue from a process that runs no workflows itself (the CLI, an API-only process):
    a worker picks it up from the shared system database."""
    client = await _client()
    await client.enqueue_async(
        {
            "workflow_name": workflow_name,
            "queue_name": queue_name,
            "workflow_id": workflow_id,
            "app_version": APPLICATION_VERSION,
        },
        *args,
    )


async def send(workflow_id: str, message: Any, *, topic: str, idempotency_key: str) -> None:
    """Send a message to a workflow (it `recv`s it), from a worker or from any other process;
    the same idempotency key sends it once."""
    if is_launched():
        await DBOS.send_async(workflow_id, message, topic, idempotency_key=idempotency_key)
        return
    client = await _client()
    await client.send_async(workflow_id, message, topic, idempotency_key)


async def recover_executor(executor_id: str) -> int:
    """Put the pending workflows of another (dead) executor back on their queues, through DBOS's
    own recovery: live workers go on with them after their last completed step. DBOS re-enqueues
    only workflows still pending on that executor, so asking twice does no harm."""
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
    return len(handles)


def close_client() -> None:
    client: DBOSClient | None = _state["client"]
    _state["client"] = None
    if client is not None:
        client.destroy()
