"""The live feed of module operations (server-sent events).

A stream shows only the operations its caller may see (admins all, others their own) and asks
`recheck` every `recheck_seconds` whether the credential that opened it still holds: a revoked
token, a deactivated user, an ended web session or a lost scope ends the stream with an `end`
event, as the next ordinary request would be refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from stellwerk.database import Database
from stellwerk.exceptions import StellwerkError
from stellwerk.module import workflow
from stellwerk.module.repository import ModuleOperationRepository
from stellwerk.module.service import module_instance
from stellwerk.operation.workflow import FINISHED

POLL_SECONDS = 0.5
MAX_SECONDS = 3600.0

# Authenticates the stream's caller again: returns whose operations it may see (None: all), or
# raises the error a new request with the same credential would get.
Recheck = Callable[[], Awaitable[int | None]]


def _event(name: str, body: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: ".encode() + orjson.dumps(body) + b"\n\n"


async def operation_feed(
    database: Database,
    *,
    owner_user_id: int | None,
    recheck: Recheck,
    recheck_seconds: float,
    operation_id: uuid.UUID | None = None,
    max_seconds: float = MAX_SECONDS,
) -> AsyncIterator[bytes]:
    """One `operation` event per change of a module operation the caller may see."""
    since: dt.datetime | None = None
    seen: dict[str, tuple[str, int, str]] = {}
    deadline = time.monotonic() + max_seconds
    next_check = time.monotonic() + recheck_seconds
    yield b": module operations\n\n"
    while time.monotonic() < deadline:
        if time.monotonic() >= next_check:
            try:
                owner_user_id = await recheck()
            except StellwerkError as error:
                yield _event("end", {"code": error.code, "message": error.message})
                return
            next_check = time.monotonic() + recheck_seconds
        async with database.session() as session:
            changed = await ModuleOperationRepository(session).updated_since(
                workflow.KINDS, since, operation_id, owner_user_id=owner_user_id
            )
        finished = False
        for operation in changed:
            since = operation.updated_at if since is None else max(since, operation.updated_at)
            key = (operation.status, operation.progress, operation.message)
            if seen.get(str(operation.id)) == key:
                continue
            seen[str(operation.id)] = key
            body = module_instance.response(operation, status_prefix="/modules/status").model_dump()
            body["kind"] = operation.kind
            body["error"] = operation.error
            yield _event("operation", body)
            finished = finished or (operation_id is not None and operation.status in FINISHED)
        if finished:
            return
        await asyncio.sleep(max(0.05, min(POLL_SECONDS, next_check - time.monotonic())))
