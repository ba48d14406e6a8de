"""Run a coroutine at once, on the caller's stack, until it finishes or first has to wait.

Most hot-path answers never wait (an in-process rate limit, an SQLite read on the loop's thread),
and a task per request costs more than such an answer. `start` runs the coroutine right away:
if it finishes without waiting, its result is there with no task at all; if it has to wait, a
task takes it over from where it stopped (what asyncio's eager task factory does from Python
3.12 on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Done(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def start(coroutine: Coroutine[Any, Any, T]) -> Done[T] | asyncio.Task[T]:
    """The result (`Done`) when the coroutine finished without waiting, else the task that
    goes on with it. An exception it raises before waiting is raised here."""
    try:
        awaited = coroutine.send(None)
    except StopIteration as finished:
        return Done(finished.value)
    return asyncio.get_running_loop().create_task(_resume(_Started(coroutine, awaited)))


async def _resume(started: _Started[T]) -> T:
    return await started


class _Started(Generic[T]):
    """Awaitable going on with a coroutine that has already yielded `awaited` to the loop."""

    def __init__(self, coroutine: Coroutine[Any, Any, T], awaited: Any) -> None:
        self.coroutine = coroutine
        self.awaited = awaited

    def __await__(self) -> Generator[Any, None, T]:
        coroutine, awaited = self.coroutine, self.awaited
        while True:
            try:
                yield awaited
            except BaseException as error:  # thrown in by the task: cancellation
                try:
                    awaited = coroutine.throw(error)
                except StopIteration as finished:
                    return finished.value  # type: ignore[no-any-return]
            else:
                try:
                    awaited = coroutine.send(None)
                except StopIteration as finished:
                    return finished.value  # type: ignore[no-any-return]
