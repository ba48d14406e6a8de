"""Whether the calling task has an ORM transaction open: for tests that check that no provider
is asked while one is (a provider call must never keep a transaction waiting)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction


@contextmanager
def transactions_watched() -> Iterator[Callable[[], bool]]:
    """Yields `open_in()`: whether the current task began a transaction not ended yet."""
    open_by: dict[int, asyncio.Task[Any] | None] = {}

    def began(session: Session, transaction: SessionTransaction, connection: Any) -> None:
        open_by[id(session)] = asyncio.current_task()

    def ended(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            open_by.pop(id(session), None)

    def open_in() -> bool:
        task = asyncio.current_task()
        return any(owner is task for owner in open_by.values())

    event.listen(Session, "after_begin", began)
    event.listen(Session, "after_transaction_end", ended)
    try:
        yield open_in
    finally:
        event.remove(Session, "after_begin", began)
        event.remove(Session, "after_transaction_end", ended)
