"""`stellwerk ops`: list, show, cancel and answer operations, and probe the workflow engine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.cli.common import (
    DataDirOption,
    JsonOption,
    console,
    data_dir_override,
    fail,
    load_settings,
    open_runtime,
    out,
    print_json,
    run_in_session,
)
from stellwerk.cli.progress import describe_prompts, follow_operation
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import iso
from stellwerk.models import OperationPrompt
from stellwerk.operation import probe
from stellwerk.operation.schemas import OperationRead, PromptRead
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.service import timeline
from stellwerk.runtime import Runtime

ops_app = typer.Typer(
    help="Durable operations: list, show, cancel, answer, probe.", no_args_is_help=True
)


@ops_app.command("list")
def ops_list(
    kind: str | None = typer.Option(None, "--kind", help="Only this kind."),
    status: str | None = typer.Option(
        None, "--status", help="queued, running, waiting, completed, failed, cancelled."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """List operations, newest first."""

    async def work(
        runtime: Runtime, session: AsyncSession
    ) -> list[tuple[OperationRead, str | None]]:
        rows, _ = await operation_service.list(
            session,
            Principal.system(),
            params=PageParams(page=1, per_page=limit),
            kind=kind,
            status=status,
        )
        return [(OperationRead.model_validate(o), o.executor_id) for o in rows]

    operations = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    if as_json:
        print_json([{**o.model_dump(mode="json"), "executor_id": e} for o, e in operations])
        return
    table = Table("id", "kind", "status", "progress", "message", "worker", "created")
    for o, executor in operations:
        table.add_row(
            str(o.id),
            o.kind,
            o.status,
            f"{o.progress}%",
            o.message,
            executor or "",
            iso(o.created_at) or "",
        )
    out.print(table)


@ops_app.command("show")
def ops_show(
    operation_id: uuid.UUID = typer.Argument(..., help="The operation's id."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Show an operation with its history."""

    async def work(
        runtime: Runtime, session: AsyncSession
    ) -> tuple[
        OperationRead,
        str | None,
        Sequence[OperationPrompt],
        list[tuple[str, int, str, str | None, float | None]],
    ]:
        operation = await operation_service.get(session, Principal.system(), operation_id)
        events = await operation_service.events(session, operation)
        prompts = (await operation_service.open_prompts(session, [operation])).get(operation.id, [])
        read = OperationRead.model_validate(operation)
        read.prompts = [PromptRead.model_validate(p) for p in prompts]
        history = [
            (iso(e.at) or "", e.progress, e.message, e.step, e.seconds)
            for e in timeline(operation, events)
        ]
        return read, operation.executor_id, prompts, history

    settings = load_settings(**data_dir_override(data_dir))
    operation, executor, prompts, events = run_in_session(settings, work)
    if as_json:
        print_json(
            {
                **operation.model_dump(mode="json"),
                "executor_id": executor,
                "events": [
                    {"at": a, "progress": p, "message": m, "step": step, "seconds": took}
                    for a, p, m, step, took in events
                ],
            }
        )
        return
    out.print(
        f"[bold]{operation.kind}[/bold] {operation.id}: "
        f"{operation.status}, {operation.progress}% - {operation.message}"
    )
    if executor:
        out.print(f"worker: {executor}")
    if operation.error:
        out.print(f"[red]error:[/red] {operation.error}")
    for at, progress, message, _step, took in events:
        spent = "" if took is None else f"  ({took:.1f} s)"
        out.print(f"  {at}  {progress:>3}%  {message}{spent}")
    describe_prompts(operation.id, prompts)


@ops_app.command("cancel")
def ops_cancel(
    operation_id: uuid.UUID = typer.Argument(..., help="The operation's id."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Cancel a queued or running operation (it stops at its next step)."""

    async def work(runtime: Runtime, session: AsyncSession) -> None:
        operation = await operation_service.get(session, Principal.system(), operation_id)
        await operation_service.cancel(session, Actor.cli(), operation)

    run_in_session(load_settings(**data_dir_override(data_dir)), work)
    console.print(f"Cancelled {operation_id}.")


@ops_app.command("answer")
def ops_answer(
    operation_id: uuid.UUID = typer.Argument(..., help="The operation's id."),
    answer: str = typer.Argument(..., help="The id of the option you choose."),
    prompt: str | None = typer.Option(
        None, "--prompt", help="The question's id (needed only while several are open)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Answer the question a waiting operation asks (`ops show` lists its options)."""

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        operation = await operation_service.get(session, Principal.system(), operation_id)
        chosen = await operation_service.answer(
            session, Actor.cli(), operation, answer=answer, prompt_id=prompt
        )
        return next((str(o["label"]) for o in chosen.options if o["id"] == answer), answer)

    label = run_in_session(load_settings(**data_dir_override(data_dir)), work)
    console.print(f"Answered {operation_id}: {label}.")


@ops_app.command("probe")
def ops_probe(
    steps: int = typer.Option(3, "--steps", min=1, max=probe.MAX_STEPS),
    seconds: float = typer.Option(1.0, "--seconds", min=0, max=probe.MAX_SECONDS),
    ask: bool = typer.Option(False, "--ask", help="Stop after step 1 with a question."),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="Wait and show progress."),
    data_dir: Path | None = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Run the engine probe on the running server's workers (N short steps)."""
    settings = load_settings(**data_dir_override(data_dir))

    async def main() -> OperationRead:
        async with open_runtime(settings) as runtime:
            async with runtime.database.session() as session:
                operation, _ = await operation_service.start(
                    session,
                    Actor.cli(),
                    kind=probe.KIND,
                    input={"steps": steps, "seconds": seconds, "ask": ask},
                )
            if follow:
                operation = await follow_operation(
                    runtime, operation.id, timeout=steps * seconds + 60, quiet=as_json
                )
                if operation.status == "waiting":
                    async with runtime.database.session() as session:
                        prompts = await operation_service.open_prompts(session, [operation])
                    describe_prompts(operation.id, prompts.get(operation.id, []))
            return OperationRead.model_validate(operation)

    result = asyncio.run(main())
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif result.status == "queued":
        fail("The probe is still queued: is `stellwerk serve` running on this data directory?")
    else:
        console.print(f"Probe {result.id}: {result.status}")
