"""Following an operation from the command line with a live progress bar, and answering the
questions it stops at."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Sequence

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.prompt import Prompt

from stellwerk.audit.actor import Actor
from stellwerk.cli.common import console
from stellwerk.exceptions import StellwerkError
from stellwerk.models import Operation, OperationPrompt
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED
from stellwerk.runtime import Runtime


def describe_prompts(operation_id: uuid.UUID, prompts: Sequence[OperationPrompt]) -> None:
    """Print the questions an operation waits on and how to answer them."""
    for prompt in prompts:
        console.print(f"[bold yellow]?[/bold yellow] {prompt.message}")
        for option in prompt.options:
            console.print(f"    {option['id']:<34} {option['label']}")
        first = prompt.options[0]["id"] if prompt.options else "<option>"
        console.print(f"  Answer by {prompt.expires_at:%Y-%m-%d %H:%M:%S} UTC with:")
        console.print(
            f"    stellwerk ops answer {operation_id} {first} --prompt {prompt.prompt_id}",
            soft_wrap=True,
        )


async def _ask(runtime: Runtime, operation: Operation, prompt: OperationPrompt) -> None:
    """Ask at the terminal and answer the operation's question."""
    choices = [str(o["id"]) for o in prompt.options]
    console.print(f"[bold yellow]?[/bold yellow] {prompt.message}")
    for option in prompt.options:
        console.print(f"    {option['id']:<34} {option['label']}")
    chosen = await asyncio.to_thread(
        Prompt.ask, "Your answer", choices=choices, console=console, show_choices=False
    )
    try:
        async with runtime.database.session() as session:
            await operation_service.answer(
                session, Actor.cli(), operation, answer=chosen, prompt_id=prompt.prompt_id
            )
    except StellwerkError as error:
        console.print(f"[yellow]not answered:[/yellow] {error.message}")


async def follow_operation(
    runtime: Runtime,
    operation_id: uuid.UUID,
    *,
    timeout: float = 3600.0,
    quiet: bool = False,
    interactive: bool | None = None,
) -> Operation:
    """Poll the operation until it finishes (or `timeout`), drawing its progress.

    When it stops with a question, ask it at the terminal (`interactive`, by default when
    stdin is one); otherwise return the waiting operation so the caller can say how to answer.
    """
    ask = (sys.stdin.isatty() and not quiet) if interactive is None else interactive
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("[bold]{task.fields[kind]}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    asked: set[int] = set()
    with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
        task = progress.add_task("Queued", total=100, kind="operation")
        while True:
            async with runtime.database.session() as session:
                operation = await OperationRepository(session).get(operation_id)
                if operation is None:
                    raise LookupError(f"operation {operation_id} does not exist")
                prompts = (await operation_service.open_prompts(session, [operation])).get(
                    operation.id, []
                )
            progress.update(
                task,
                completed=operation.progress,
                description=operation.message,
                kind=operation.kind,
            )
            if operation.status in FINISHED or time.monotonic() > deadline:
                return operation
            if prompts and not ask:
                return operation
            for prompt in prompts:
                if prompt.id in asked:
                    continue
                asked.add(prompt.id)
                progress.stop()
                await _ask(runtime, operation, prompt)
                progress.start()
            await asyncio.sleep(0.3)
