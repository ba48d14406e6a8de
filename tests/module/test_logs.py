"""An instance's output: the last lines and what follows, through the API and the CLI."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import httpx
from typer.testing import CliRunner

from stellwerk import migrate
from stellwerk.cli.main import app
from stellwerk.config import Settings
from stellwerk.models import ModuleInstance
from stellwerk.module.files import ModuleFiles
from stellwerk.module.runtimes import _tail_file
from stellwerk.runtime import Runtime
from tests.factories import create_staff
from tests.module.factories import RepositoryDir, install, manifest
from tests.web.test_router import log_in

TICKER = [
    "{python}",
    "-u",
    "-c",
    "import itertools, time\n"
    "for i in itertools.count():\n    print(f'tick {i}')\n    time.sleep(0.1)",
]


class TestApi:
    async def test_the_last_lines_then_what_follows(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("ticker", "1.0.0", command=TICKER))
        _, final = await install(client, modules_headers, "ticker")
        assert final["status"] == "completed", final
        instance_id = (await client.get("/modules/primary/ticker", headers=modules_headers)).json()[
            "instance_id"
        ]
        url = f"/modules/instance/ticker/{instance_id}/logs"
        first: dict[str, object] = {}
        for _ in range(50):
            first = (await client.get(url, params={"lines": 3}, headers=modules_headers)).json()
            if len(first["lines"]) == 3:  # type: ignore[arg-type]
                break
            await asyncio.sleep(0.1)
        lines = first["lines"]
        assert isinstance(lines, list)
        assert len(lines) == 3
        numbers = [int(line.split()[1]) for line in lines]
        assert numbers == list(range(numbers[0], numbers[0] + 3))
        await asyncio.sleep(0.5)
        more = await client.get(url, params={"after": first["cursor"]}, headers=modules_headers)
        assert more.status_code == 200
        following = [int(line.split()[1]) for line in more.json()["lines"]]
        assert following
        assert following[0] == numbers[-1] + 1
        assert following == list(range(following[0], following[0] + len(following)))

        missing = await client.get(
            f"/modules/instance/ticker/{'0' * 32}/logs", headers=modules_headers
        )
        assert missing.status_code == 404
        too_many = await client.get(url, params={"lines": 0}, headers=modules_headers)
        assert too_many.status_code == 422

        await log_in(client, (await create_staff(runtime)).username)
        page = await client.get(f"/ui/modules/instances/ticker/{instance_id}/logs?follow=true")
        assert page.status_code == 200
        assert "tick " in page.text
        assert "logs/tail?lines=200" in page.text
        tail = await client.get(f"/ui/modules/instances/ticker/{instance_id}/logs/tail")
        assert 'data-final="false"' in tail.text
        assert "tick " in tail.text


def test_tail_file_reads_complete_lines_and_starts_over_after_truncation(tmp_path: Path) -> None:
    path = tmp_path / "unit.log"
    assert _tail_file(path, 5, None).lines == []
    path.write_bytes(b"one\ntwo\nthree\npartial")
    chunk = _tail_file(path, 2, None)
    assert chunk.lines == ["two", "three"]
    with path.open("ab") as log:
        log.write(b" line\nfour\n")
    after = _tail_file(path, 2, chunk.cursor)
    assert after.lines == ["partial line", "four"]
    assert _tail_file(path, 2, after.cursor).lines == []
    path.write_bytes(b"new\n")  # replaced: shorter than the cursor
    assert _tail_file(path, 2, after.cursor).lines == ["new"]


async def _seed_instance(settings: Settings) -> tuple[str, Path]:
    runtime = Runtime.from_settings(settings)
    instance_id = uuid.uuid4().hex
    try:
        await migrate.upgrade_async(settings.resolved_database_url)
        async with runtime.database.session() as session:
            session.add(
                ModuleInstance(
                    id=instance_id,
                    module_name="ticker",
                    version="1.0.0",
                    runtime="process",
                    unit_name=f"stellwerk_ticker_{instance_id}",
                    status="running",
                )
            )
    finally:
        await runtime.close()
    files = ModuleFiles.for_settings(settings)
    log = files.log_file(f"stellwerk_ticker_{instance_id}")
    log.parent.mkdir(parents=True, exist_ok=True)
    return instance_id, log


def test_cli_prints_the_last_lines_and_follows(tmp_data_dir: Path, tmp_path: Path) -> None:
    modules_root = tmp_path / "modules"
    settings = Settings(_env_file=None, data_dir=tmp_data_dir, modules_root=modules_root)  # type: ignore[call-arg]
    instance_id, log = asyncio.run(_seed_instance(settings))
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    env = {"STELLWERK_MODULES_DIR": str(modules_root)}
    data = ["--data-dir", str(tmp_data_dir)]
    runner = CliRunner()
    last = runner.invoke(app, ["modules", "logs", "ticker", instance_id, "-n", "3", *data], env=env)
    assert last.exit_code == 0, last.output
    assert last.stdout.splitlines() == ["line 7", "line 8", "line 9"]

    def write_more() -> None:
        time.sleep(0.6)
        with log.open("a") as handle:
            handle.write("line 10\nline 11\n")

    writer = threading.Thread(target=write_more)
    writer.start()
    followed = runner.invoke(
        app,
        [
            "modules",
            "logs",
            "ticker",
            instance_id,
            "-n",
            "1",
            "-f",
            "--interval",
            "0.2",
            "--seconds",
            "1.5",
            *data,
        ],
        env=env,
    )
    writer.join()
    assert followed.exit_code == 0, followed.output
    assert followed.stdout.splitlines() == ["line 9", "line 10", "line 11"]

    unknown = runner.invoke(app, ["modules", "logs", "ticker", "0" * 32, *data], env=env)
    assert unknown.exit_code == 1
