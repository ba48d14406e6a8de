"""`stellwerk ops`: list, show, cancel and answer operations, and probe the workflow engine."""

from __future__ import annotations

import typer
from rich.table import Table

from stellwerk.cli.client import Api
from stellwerk.cli.common import JsonOption, check_choice, console, out, print_json
from stellwerk.cli.progress import describe_prompts, follow_operation

ops_app = typer.Typer(
    help="Durable operations: list, show, cancel, answer, probe.", no_args_is_help=True
)
STATUSES = ("queued", "running", "waiting", "completed", "failed", "cancelled")


@ops_app.command("list")
def ops_list(
    kind: str | None = typer.Option(None, "--kind", metavar="KIND", help="Only this kind."),
    status: str | None = typer.Option(
        None, "--status", metavar="STATUS", help=f"Only this status: {', '.join(STATUSES)}."
    ),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, max=200),
    as_json: bool = JsonOption,
) -> None:
    """List operations, newest first."""
    if status is not None:
        check_choice("--status", status, STATUSES, as_json=as_json)
    with Api(as_json=as_json) as api:
        page = api.get(
            "/api/operations", params={"kind": kind, "status": status, "per_page": limit}
        )
    operations = page["items"]
    if as_json:
        print_json(operations)
        return
    table = Table("id", "kind", "status", "progress", "message", "worker", "created")
    for o in operations:
        table.add_row(
            o["id"],
            o["kind"],
            o["status"],
            f"{o['progress']}%",
            o["message"],
            o.get("executor_id") or "",
            o["created_at"],
        )
    out.print(table)


@ops_app.command("show")
def ops_show(
    operation_id: str = typer.Argument(..., metavar="OPERATION", help="The operation's id."),
    as_json: bool = JsonOption,
) -> None:
    """Show an operation with its history."""
    with Api(as_json=as_json) as api:
        operation = api.get(f"/api/operations/{operation_id}")
    if as_json:
        print_json(operation)
        return
    out.print(
        f"[bold]{operation['kind']}[/bold] {operation['id']}: "
        f"{operation['status']}, {operation['progress']}% - {operation['message']}"
    )
    if operation.get("executor_id"):
        out.print(f"worker: {operation['executor_id']}")
    if operation["error"]:
        out.print(f"[red]error:[/red] {operation['error']}")
    for event in operation["events"]:
        took = event.get("seconds")
        spent = "" if took is None else f"  ({took:.1f} s)"
        out.print(f"  {event['at']}  {event['progress']:>3}%  {event['message']}{spent}")
    describe_prompts(operation["id"], operation["prompts"])


@ops_app.command("cancel")
def ops_cancel(
    operation_id: str = typer.Argument(..., metavar="OPERATION", help="The operation's id."),
    as_json: bool = JsonOption,
) -> None:
    """Cancel a queued or running operation (it stops at its next step)."""
    with Api(as_json=as_json) as api:
        operation = api.post(f"/api/operations/{operation_id}/cancel")
    if as_json:
        print_json(operation)
    else:
        console.print(f"Cancelled {operation_id}.")


@ops_app.command("answer")
def ops_answer(
    operation_id: str = typer.Argument(..., metavar="OPERATION", help="The operation's id."),
    answer: str = typer.Argument(..., metavar="OPTION", help="The id of the option you choose."),
    prompt: str | None = typer.Option(
        None,
        "--prompt",
        metavar="QUESTION",
        help="The question's id (needed only while several are open).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Answer the question a waiting operation asks (`ops show` lists its options)."""
    with Api(as_json=as_json) as api:
        before = api.get(f"/api/operations/{operation_id}")
        operation = api.post(
            f"/api/operations/{operation_id}/answer",
            json={"answer": answer, "prompt_id": prompt},
        )
    if as_json:
        print_json(operation)
        return
    label = next(
        (
            str(option["label"])
            for question in before["prompts"]
            if prompt is None or question["id"] == prompt
            for option in question["options"]
            if option["id"] == answer
        ),
        answer,
    )
    console.print(f"Answered {operation_id}: {label}.")


@ops_app.command("probe")
def ops_probe(
    steps: int = typer.Option(3, "--steps", metavar="N", min=1),
    seconds: float = typer.Option(1.0, "--seconds", metavar="SECONDS", min=0),
    ask: bool = typer.Option(False, "--ask", help="Stop after step 1 with a question."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Wait and show progress."),
    as_json: bool = JsonOption,
) -> None:
    """Run the engine probe on the running server's workers (N short steps)."""
    with Api(as_json=as_json) as api:
        operation = api.post(
            "/api/operations/probe", json={"steps": steps, "seconds": seconds, "ask": ask}
        )
        if follow:
            operation = follow_operation(
                api, operation["id"], timeout=steps * seconds + 60, quiet=as_json
            )
            if operation["status"] == "waiting" and not as_json:
                describe_prompts(operation["id"], operation["prompts"])
    if as_json:
        print_json(operation)
    elif follow and operation["status"] == "queued":
        api.fail("The probe is still queued: are the server's workers running?")
    else:
        console.print(f"Probe {operation['id']}: {operation['status']}")
