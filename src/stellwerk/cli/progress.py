"""Following an operation from the command line with a live progress bar."""

from __future__ import annotations

import asyncio
import time
import uuid

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from stellwerk.cli.common import console
from stellwerk.models import Operation
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.workflow import FINISHED
from stellwerk.runtime import Runtime


async def follow_operation(
    runtime: Runtime, operation_id: uuid.UUID, *, timeout: float = 3600.0, quiet: bool = False
) -> Operation:
    """Poll the operation until it finishes (or `timeout`), drawing its progress."""
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("[bold]{task.fields[kind]}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
        task = progress.add_task("Queued", total=100, kind="operation")
        while True:
            async with runtime.database.session() as session:
                operation = await OperationRepository(session).get(operation_id)
            if operation is None:
                raise LookupError(f"operation {operation_id} does not exist")
            progress.update(
                task,
                completed=operation.progress,
                description=operation.message,
                kind=operation.kind,
            )
            if operation.status in FINISHED:
                return operation
            if time.monotonic() > deadline:
                return operation
            await asyncio.sleep(0.3)
