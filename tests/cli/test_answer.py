"""`stellwerk ops show` names the question a waiting operation asks; `stellwerk ops answer`
answers it; `stellwerk modules updates` and `update` are there."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from stellwerk.cli.main import app
from stellwerk.config import Settings
from stellwerk.kit.time import utc_now
from stellwerk.models import Operation, OperationPrompt
from stellwerk.operation.repository import OperationRepository
from stellwerk.runtime import Runtime

runner = CliRunner()


async def _seed_waiting(data_dir: Path) -> uuid.UUID:
    runtime = Runtime.from_settings(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
    try:
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
    finally:
        await runtime.close()


async def _prompt(data_dir: Path, operation_id: uuid.UUID) -> OperationPrompt | None:
    runtime = Runtime.from_settings(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
    try:
        async with runtime.database.session() as session:
            return await OperationRepository(session).prompt(operation_id, "go_on")
    finally:
        await runtime.close()


def test_show_and_answer_a_waiting_operation(tmp_data_dir: Path) -> None:
    data = ["--data-dir", str(tmp_data_dir)]
    listed = runner.invoke(app, ["ops", "list", "--status", "waiting", "--json", *data])
    assert listed.exit_code == 0, listed.output
    operation_id = asyncio.run(_seed_waiting(tmp_data_dir))

    shown = runner.invoke(app, ["ops", "show", str(operation_id), "--json", *data])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["status"] == "waiting"
    assert body["executor_id"] == "worker-b"
    assert body["prompts"][0]["id"] == "go_on"
    assert [o["id"] for o in body["prompts"][0]["options"]] == ["continue", "stop"]
    text = runner.invoke(app, ["ops", "show", str(operation_id), *data])
    assert "Go on?" in text.output
    assert "worker: worker-b" in text.output
    listed = runner.invoke(app, ["ops", "list", "--json", *data])
    assert json.loads(listed.stdout)[0]["executor_id"] == "worker-b"
    assert f"stellwerk ops answer {operation_id} continue --prompt go_on" in text.output

    wrong = runner.invoke(app, ["ops", "answer", str(operation_id), "perhaps", *data])
    assert wrong.exit_code == 1
    assert "continue, stop" in wrong.output
    answered = runner.invoke(app, ["ops", "answer", str(operation_id), "continue", *data])
    assert answered.exit_code == 0, answered.output
    assert "Go on" in answered.output
    prompt = asyncio.run(_prompt(tmp_data_dir, operation_id))
    assert prompt is not None
    assert (prompt.answer, prompt.answered_by) == ("continue", "cli")


def test_module_update_commands_are_there(tmp_data_dir: Path) -> None:
    data = ["--data-dir", str(tmp_data_dir)]
    updates = runner.invoke(app, ["modules", "updates", "--json", *data])
    assert updates.exit_code == 0, updates.output
    assert json.loads(updates.stdout)["modules"] == []
    for command in ("update", "stop", "start", "restart", "remove"):
        helped = runner.invoke(app, ["modules", command, "--help"])
        assert helped.exit_code == 0, helped.output
    assert "--repository" in runner.invoke(app, ["modules", "update", "--help"]).output
    assert "--new-primary" in runner.invoke(app, ["modules", "remove", "--help"]).output
    missing = runner.invoke(app, ["modules", "update", "v2_dashboard", *data])
    assert missing.exit_code == 1
    assert "not installed" in missing.output
