"""The workflow engine: DBOS's configuration, launch, queues, and the database workflows use.

It knows no domain. An `Engine` is held by the process's runtime and is handed, at start, the
modules that define workflows (`stellwerk.workflows.MODULES`, imported by whoever starts it, so
that DBOS knows every workflow before it recovers unfinished ones). DBOS itself is one per
process, so is the engine: the module-level functions below reach the process's engine (to
enqueue, send, recover).

Async workflows run on DBOS's own event loop, so they get their own `Database` bound to that loop
(`Engine.database()`), never the request's engine. Workflow code does not reach the engine for
it: a workflow builds its step context where it starts (`operation/context.py`), and its steps
take their settings, database and providers from that context.

Schedules (`keep_schedules`) live in the system database, so they are the installation's: every
launched engine fires them, and each firing is a workflow whose id is the schedule's name and
the scheduled time, so however many engines fire it, it is enqueued, and run, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
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
        "sys_db_pool_size": settings.database_pool_size,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.2,
    }


class Engine:
    """The workflow engine of this process (one per process, as DBOS is)."""

    def __init__(self, settings: Settings, workflow_modules: Sequence[ModuleType] = ()) -> None:
        self.settings = settings
        # Imported by the caller, which registered their workflows with DBOS; kept to show
        # which ones this engine runs.
        self.workflow_modules = tuple(workflow_modules)
        self.launched = False
        self._databases: dict[int, Database] = {}
        self._client: DBOSClient | None = None

    async def launch(self, *, listen: Sequence[str] | None = None) -> None:
        """Start DBOS in this process: it recovers this executor's unfinished workflows. With
        `listen`, it takes work only from those queues (a command that runs one kind of work
        for as long as it waits for it)."""
        if not self.workflow_modules:
            raise RuntimeError("The workflow engine starts with the modules defining workflows")
        settings = self.settings
        DBOS(config=dbos_config(settings))
        if listen is not None:
            DBOS.listen_queues(list(listen))
        await asyncio.to_thread(DBOS.launch)
        # Each queue is asked from a thread of its own (`STELLWERK_QUEUE_POLL_SECONDS`): at
        # 0.2 s an idle worker spent about 15% of a CPU asking.
        prompt = settings.queue_poll_seconds
        await DBOS.register_queue_async(
            DEFAULT_QUEUE, worker_concurrency=16, polling_interval_sec=prompt
        )
        for name, options in _extra_queues.items():
            await DBOS.register_queue_async(name, polling_interval_sec=2 * prompt, **options)
        await DBOS.register_queue_async(
            host_queue(this_host()), worker_concurrency=16, polling_interval_sec=prompt
        )
        self.launched = True
        log.info("workflow engine started", extra={"executor_id": settings.executor_id})

    async def shutdown(self) -> None:
        if not self.launched:
            return
        self.launched = False
        await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=0)
        # DBOS made its (now stopped) pool this loop's default executor; give the loop its own.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
        databases, self._databases = self._databases, {}
        for database in databases.values():
            with contextlib.suppress(RuntimeError):  # bound to DBOS's loop, which has stopped
                await database.dispose()

    def database(self) -> Database:
        """The database for code running on the current event loop (a workflow's steps, through
        their context)."""
        loop_id = id(asyncio.get_running_loop())
        database = self._databases.get(loop_id)
        if database is None:
            database = Database(
                self.settings.resolved_database_url, pool_size=self.settings.database_pool_size
            )
            self._databases[loop_id] = database
        return database

    async def client(self) -> DBOSClient:
        if self._client is None:
            self._client = await asyncio.to_thread(
                DBOSClient,
                system_database_url=system_database_url(self.settings),
                serializer=DBOSPortableJSONSerializer(),
                application_name=APPLICATION_NAME,
            )
        return self._client

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.destroy()


_current: Engine | None = None


def configure(settings: Settings, workflow_modules: Sequence[ModuleType] = ()) -> Engine:
    """This process's engine, with the settings workflows need; called by every process before
    work starts (a process that runs workflows hands it their modules)."""
    global _current
    previous = _current
    if previous is not None and previous.launched:
        # A command run inside a process whose engine runs (tests, embedding code): the running
        # engine stays, with these settings for what runs from now on.
        previous.settings = settings
        return previous
    if previous is not None:
        previous.close_client()
    _current = Engine(settings, workflow_modules)
    return _current


def current() -> Engine:
    if _current is None:
        raise RuntimeError("The operation engine is not configured")
    return _current


def this_host() -> str:
    return socket.gethostname()[:255]


def host_queue(host: str) -> str:
    """The queue only the workers on `host` take work from (work on a module's process)."""
    return f"{HOST_QUEUE_PREFIX}{host}"


def is_launched() -> bool:
    return _current is not None and _current.launched


_extra_queues: dict[str, dict[str, Any]] = {}


def register_queue(name: str, **options: Any) -> None:
    """Declare a queue (for example `global_concurrency=1`) that `launch` creates."""
    _extra_queues[name] = options


async def enqueue_from_outside(
    *, workflow_name: str, queue_name: str, workflow_id: str, args: tuple[Any, ...]
) -> None:
    """Enqueue from a process that runs no workflows itself (the CLI, an API-only process), or
    onto another host's queue: a worker picks it up from the shared system database."""
    client = await current().client()
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
    client = await current().client()
    await client.send_async(workflow_id, message, topic, idempotency_key)


async def cancel(workflow_id: str) -> None:
    """Cancel a workflow, from a worker or from any other process (an API process of
    `stellwerk serve` or of a scaled out installation runs none itself)."""
    if is_launched():
        await DBOS.cancel_workflow_async(workflow_id)
        return
    client = await current().client()
    await client.cancel_workflow_async(workflow_id)


async def recover_executor(executor_id: str) -> int:
    """Put the pending workflows of another (dead) executor back on their queues, through DBOS's
    own recovery: live workers go on with them after their last completed step. DBOS re-enqueues
    only workflows still pending on that executor, so asking twice does no harm."""
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
    return len(handles)


async def keep_schedules(
    prefix: str,
    workflow: Callable[..., Any],
    schedules: Mapping[str, tuple[str, Any]],
    *,
    queue: str | None = None,
) -> None:
    """Make the installation's schedules named `prefix`… exactly `schedules` (name → (cron
    expression with seconds first, context)): each fires `workflow(scheduled_at, context)` on
    `queue`. Unchanged ones stay as they are (their firing goes on undisturbed); the others under
    `prefix` are deleted."""
    for name in schedules:
        if not name.startswith(prefix):
            raise ValueError(f"schedule {name} is not named {prefix}…")
    await DBOS.apply_schedules_async(
        [
            {
                "schedule_name": name,
                "workflow_fn": workflow,
                "schedule": cron,
                "context": context,
                "queue_name": queue,
            }
            for name, (cron, context) in schedules.items()
        ]
    )
    for existing in await DBOS.list_schedules_async(schedule_name_prefix=prefix):
        if existing["schedule_name"] not in schedules:
            await DBOS.delete_schedule_async(existing["schedule_name"])


async def delete_finished(
    workflow_name: str, completed_before: dt.datetime, *, batch: int = 1000
) -> int:
    """Delete the workflows named `workflow_name` that ended (successfully or not) before
    `completed_before`, with everything recorded about them; how many."""
    deleted = 0
    while True:
        ended = await DBOS.list_workflows_async(
            name=workflow_name,
            status=["SUCCESS", "ERROR", "CANCELLED"],
            completed_before=completed_before.isoformat(),
            limit=batch,
            load_input=False,
            load_output=False,
        )
        if not ended:
            return deleted
        await DBOS.delete_workflows_async([w.workflow_id for w in ended])
        deleted += len(ended)
        if len(ended) < batch:
            return deleted


def close_client() -> None:
    if _current is not None:
        _current.close_client()
