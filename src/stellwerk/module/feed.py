"""The live feed of the module manager: operation progress and instance status, as events.

The same events reach clients two ways: server-sent events at `/modules/events` and JSON
messages on the WebSocket `/ws/module_feed`. Each event is an object with `type` and
`timestamp`:

- `operation`: the fields of `OperationResponse` (with `prompts` while it waits), `kind` and
  `error`, each time an operation's status, progress, message or questions change;
- `instance`: `module_name` and the fields of `ModuleInstance`, for every instance when the feed
  opens and whenever its status, version, primary flag or frontend change;
- `instance_removed`: `module_name` and `instance_id` of an instance that is gone;
- `end`: `code` and `message`, the last event, when the credential that opened the feed stopped
  being valid (or the feed reached its maximum age).

A feed shows only the operations its caller may see (the company all, others their own) and asks
`recheck` every `recheck_seconds` whether its credential still holds: a revoked token, a
deactivated user, an ended web session or a lost scope ends it as the next ordinary request
would be refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import orjson

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.exceptions import StellwerkError
from stellwerk.kit.time import iso, utc_now
from stellwerk.models import ModuleInstance, Operation, OperationEvent, OperationPrompt
from stellwerk.module import workflow
from stellwerk.module.repository import ModuleInstanceRepository, ModuleOperationRepository
from stellwerk.module.service import module_instance
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED

POLL_SECONDS = 0.5
LIVE_SECONDS = 3.0  # how often the runtimes are asked about the instances' live status
MAX_SECONDS = 3600.0
STATUS_PREFIX = "/modules/status"

Event = dict[str, Any]
# Authenticates the feed's caller again: returns whose operations it may see (None: all), or
# raises the error a new request with the same credential would get.
Recheck = Callable[[], Awaitable[int | None]]


def _stamped(kind: str, body: dict[str, Any]) -> Event:
    return {"type": kind, "timestamp": iso(utc_now()), **body}


class _Instances:
    """What the feed last said about each instance, to say only what changed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seen: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self.live: dict[str, str | None] = {}
        self.next_live = 0.0

    async def changes(self, instances: list[ModuleInstance]) -> list[Event]:
        if time.monotonic() >= self.next_live:
            self.live = await module_instance.live_statuses(self.settings, instances)
            self.next_live = time.monotonic() + LIVE_SECONDS
        events: list[Event] = []
        current: set[str] = set()
        for instance in instances:
            current.add(instance.id)
            read = module_instance.read(instance, self.live.get(instance.id))
            key = (read.status, read.version, read.is_primary, read.frontend_url)
            previous = self.seen.get(instance.id)
            if previous is not None and previous[2] == key:
                continue
            self.seen[instance.id] = (instance.module_name, instance.id, key)
            events.append(
                _stamped(
                    "instance",
                    {"module_name": instance.module_name, **read.model_dump(mode="json")},
                )
            )
        for gone in set(self.seen) - current:
            module_name, instance_id, _ = self.seen.pop(gone)
            events.append(
                _stamped(
                    "instance_removed", {"module_name": module_name, "instance_id": instance_id}
                )
            )
        return events


def _operation_event(
    operation: Operation, event: OperationEvent | None, prompts: Sequence[OperationPrompt]
) -> Event:
    """The operation as it was at `event` (or as it is now)."""
    body = module_instance.response(operation, status_prefix=STATUS_PREFIX, prompts=prompts)
    if event is not None:
        body.status = event.status or operation.status  # type: ignore[assignment]
        body.progress, body.message = event.progress, event.message
    if body.status != "waiting":
        body.prompts = []
    return _stamped(
        "operation",
        {**body.model_dump(mode="json"), "kind": operation.kind, "error": operation.error},
    )


async def module_events(
    database: Database,
    settings: Settings,
    *,
    owner_user_id: int | None,
    recheck: Recheck,
    recheck_seconds: float,
    operation_id: uuid.UUID | None = None,
    max_seconds: float = MAX_SECONDS,
) -> AsyncGenerator[Event, None]:
    """The feed's events: first how the most recent operations stand, then each step of every
    operation as it happens (from the operations' event log, so no step is missed however fast
    it goes). With `operation_id`: that operation's only, until it finishes."""
    last_event: int | None = None
    said: dict[uuid.UUID, tuple[Any, ...]] = {}
    instances = _Instances(settings) if operation_id is None else None
    deadline = time.monotonic() + max_seconds
    next_check = time.monotonic() + recheck_seconds
    while time.monotonic() < deadline:
        if time.monotonic() >= next_check:
            try:
                owner_user_id = await recheck()
            except StellwerkError as error:
                yield _stamped("end", {"code": error.code, "message": error.message})
                return
            next_check = time.monotonic() + recheck_seconds
        async with database.session() as session:
            operations = ModuleOperationRepository(session)
            items: list[tuple[Operation, OperationEvent | None]]
            if last_event is None:
                last_event = await operations.last_event_id()  # before the snapshot: no gap
                recent = await operations.recent(
                    workflow.KINDS, operation_id, owner_user_id=owner_user_id
                )
                items = [(operation, None) for operation in recent]
            else:
                logged = await operations.events_after(
                    workflow.KINDS, last_event, operation_id, owner_user_id=owner_user_id
                )
                items = [(operation, event) for event, operation in logged]
                if logged:
                    last_event = logged[-1][0].id
            prompts = await operation_service.open_prompts(session, [o for o, _ in items])
            rows = list(await ModuleInstanceRepository(session).list()) if instances else []
        finished = False
        for operation, event in items:
            message = _operation_event(operation, event, prompts.get(operation.id, ()))
            key = (
                message["status"],
                message["progress"],
                message["message"],
                tuple(p["id"] for p in message["prompts"]),
            )
            if said.get(operation.id) == key:
                continue
            said[operation.id] = key
            yield message
            finished = finished or (operation_id is not None and message["status"] in FINISHED)
        if instances is not None:
            for change in await instances.changes(rows):
                yield change
        if finished:
            return
        await asyncio.sleep(max(0.05, min(POLL_SECONDS, next_check - time.monotonic())))
    yield _stamped(
        "end", {"code": "feed_expired", "message": "The feed is open at most an hour; reconnect"}
    )


async def server_sent(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    """The events as server-sent events (`event: <type>`, `data: <json>`)."""
    yield b": module feed\n\n"
    async for event in events:
        yield f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"
