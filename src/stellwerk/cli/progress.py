"""Following an operation from the command line with a live progress bar, and answering the
questions it stops at, through the server's API."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.prompt import Prompt

from stellwerk.cli.client import Api, CliError, report
from stellwerk.cli.common import console

FINISHED = frozenset({"completed", "failed", "cancelled"})
POLL_SECONDS = 0.3
QUICK_POLLS = 10
SLOW_POLL_SECONDS = 1.5


def describe_prompts(operation_id: object, prompts: list[dict[str, Any]]) -> None:
    """Print the questions an operation waits on and how to answer them."""
    for prompt in prompts:
        console.print(f"[bold yellow]?[/bold yellow] {prompt['message']}")
        for option in prompt["options"]:
            console.print(f"    {option['id']:<34} {option['label']}")
        first = prompt["options"][0]["id"] if prompt["options"] else "<option>"
        expires = str(prompt["expires_at"]).replace("T", " ")[:19]
        console.print(f"  Answer by {expires} UTC with:")
        console.print(
            f"    stellwerk ops answer {operation_id} {first} --prompt {prompt['id']}",
            soft_wrap=True,
        )


def _ask(api: Api, operation: dict[str, Any], prompt: dict[str, Any]) -> None:
    """Ask at the terminal and answer the operation's question."""
    choices = [str(o["id"]) for o in prompt["options"]]
    console.print(f"[bold yellow]?[/bold yellow] {prompt['message']}")
    for option in prompt["options"]:
        console.print(f"    {option['id']:<34} {option['label']}")
    chosen = Prompt.ask("Your answer", choices=choices, console=console, show_choices=False)
    try:
        api.call(
            "POST",
            f"/api/operations/{operation['id']}/answer",
            json={"answer": chosen, "prompt_id": prompt["id"]},
        )
    except CliError as error:
        if error.exit_code != 1:
            raise
        console.print(f"[yellow]not answered:[/yellow] {error.message}")


def follow_operation(
    api: Api,
    operation_id: object,
    *,
    timeout: float = 3600.0,
    quiet: bool = False,
    interactive: bool | None = None,
) -> dict[str, Any]:
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
    asked: set[str] = set()
    polls = 0
    with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
        task = progress.add_task("Queued", total=100, kind="operation")
        while True:
            polls += 1
            try:
                operation: dict[str, Any] = api.call("GET", f"/api/operations/{operation_id}")
            except CliError as error:
                if error.extra.get("status") != 429:
                    report(error, as_json=api.as_json)
                # The token's rate limit: wait as long as the server says, then go on.
                wait = error.extra.get("retry_after")
                time.sleep(min(float(wait) if isinstance(wait, int | float) else 5.0, 30.0))
                continue
            progress.update(
                task,
                completed=operation["progress"],
                description=operation["message"],
                kind=operation["kind"],
            )
            prompts = operation.get("prompts") or []
            if operation["status"] in FINISHED or time.monotonic() > deadline:
                return operation
            if prompts and not ask:
                return operation
            for prompt in prompts:
                if prompt["id"] in asked:
                    continue
                asked.add(prompt["id"])
                progress.stop()
                _ask(api, operation, prompt)
                progress.start()
            # Quick at first, then within the token's rate limit (60 requests a minute).
            time.sleep(POLL_SECONDS if polls < QUICK_POLLS else SLOW_POLL_SECONDS)
