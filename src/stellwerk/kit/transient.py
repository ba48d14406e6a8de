"""Which failures are the infrastructure's, not the work's: Redis, the database's connection,
the network. Worth trying again in a moment; a verdict (a 4xx, a missing row) never is."""

from __future__ import annotations

import asyncio

import httpx
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_FAILING: tuple[type[BaseException], ...] = (
    RedisError,
    StorageError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    httpx.TransportError,
)
# SQLite's OperationalError also means "no such table"; only these are momentary.
_SQLITE_MOMENTARY = ("database is locked", "database table is locked", "unable to open")


def is_infrastructure_error(error: BaseException) -> bool:
    """`error`, or what caused it, is Redis, the database's connection or the network failing."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_infrastructure(current):
            return True
        current = current.__cause__
    return False


def _is_infrastructure(error: BaseException) -> bool:
    if isinstance(error, _FAILING):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error, OperationalError | InterfaceError):
            text = str(error.orig) if error.orig is not None else str(error)
            if "sqlite" in type(error.orig).__module__:
                return any(momentary in text for momentary in _SQLITE_MOMENTARY)
            return True
    return False
