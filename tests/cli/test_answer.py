"""`stellwerk ops show` names the question a waiting operation asks; `stellwerk ops answer`
answers it; `stellwerk modules updates` and `update` are there."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from fastapi import FastAPI

from stellwerk.kit.time import utc_now
from stellwerk.models import Operation, OperationPrompt
from stellwerk.operation.repository import OperationRepository
from stellwerk.runtime import Runtime
from tests.clirun import cli_for


async def _seed_waiting(runtime: Runtime) -> uuid.UUID:
    async with runtime.database.session() as session:
        repository = OperationRepository(session)
        operation = await repository.add(
            Operation(
                kind="probe",
                idempotency_key="cli-answer",
                status="waiting",
                progress=50,
                message="Go on?",
                input={"steps": 2, "seconds": 0, "ask": True},
                executor_id="worker-b",
            )
        )
        await repository.add_prompt(
            OperationPrompt(
                operation_id=operation.id,
                prompt_id="go_on",
                message="Go on?",
                options=[
                    {"id": "continue", "label": "Go on"},
                    {"id": "stop", "label": "Stop the probe"},
                ],
                expires_at=utc_now() + dt.timedelta(hours=1),
            )
        )
        return operation.id


async def _prompt(runtime: Runtime, operation_id: uuid.UUID) -> OperationPrompt | None:
    async with runtime.database.session() as session:
        return await OperationRepository(session).prompt(operation_id, "go_on")


async def test_show_and_answer_a_waiting_operation(
    app: FastAPI, runtime: Runtime, tmp_path: Path
) -> None:
    async with cli_for(app, tmp_path) as cli:
        assert await cli.json("ops", "list", "--status", "waiting") == []
        operation_id = await _seed_waiting(runtime)

        body = await cli.json("ops", "show", str(operation_id))
        assert body["status"] == "waiting"
        assert body["executor_id"] == "worker-b"  # the CLI's admin sees the worker
        assert body["prompts"][0]["id"] == "go_on"
        assert [o["id"] for o in body["prompts"][0]["options"]] == ["continue", "stop"]
        text = await cli("ops", "show", str(operation_id))
        assert "Go on?" in text.output
        assert "worker: worker-b" in text.output
        assert f"stellwerk ops answer {operation_id} continue --prompt go_on" in text.output

        wrong = await cli("ops", "answer", str(operation_id), "perhaps")
        assert wrong.exit_code == 1
        assert "continue, stop" in wrong.output
        answered = await cli("ops", "answer", str(operation_id), "continue")
        assert answered.exit_code == 0, answered.output
        assert "Go on" in answered.output
    prompt = await _prompt(runtime, operation_id)
    assert prompt is not None
    assert prompt.answer == "continue"


async def test_module_update_commands_are_there(app: FastAPI, tmp_path: Path) -> None:
    async with cli_for(app, tmp_path) as cli:
        updates = await cli.json("modules", "updates")
        assert updates["modules"] == []
        for command in ("update", "stop", "start", "restart", "remove"):
            helped = await cli("modules", command, "--help")
            assert helped.exit_code == 0, helped.output
        assert "--repository" in (await cli("modules", "update", "--help")).output
        assert "--new-primary" in (await cli("modules", "remove", "--help")).output
        missing = await cli("modules", "update", "v2_dashboard")
        assert missing.exit_code == 1
        assert "not installed" in missing.output
