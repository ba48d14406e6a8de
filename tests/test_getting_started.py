"""docs/getting-started.md as a new user follows it: every command of its `console` blocks runs
against a running `stellwerk serve` (the test starts it in place of `make run`) and prints what
the page shows. `…` on the page stands for anything; runs of spaces count as one."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.process import STELLWERK, ServeProcess, base_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPORT = re.compile(r"^export ([A-Z_]+)=(.*)$", re.DOTALL)
SETTLING = ("/stats",)  # hits are stored a moment after the visit: asked again for a while


@dataclass
class Step:
    command: str
    expected: list[str]


def steps(text: str) -> list[Step]:
    found: list[Step] = []
    for block in BLOCK.findall(text):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            if not line.startswith("$ "):
                assert found, f"output before any command: {line!r}"
                found[-1].expected.append(line)
                continue
            command = line[2:]
            while command.endswith("\\"):
                command += "\n" + lines[index]
                index += 1
            found.append(Step(command, []))
    return found


def _normal(line: str) -> str:
    return re.sub(r"\s+", " ", line).strip()


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(part) for part in _normal(line).split("…")))


def missing(expected: list[str], output: str) -> str | None:
    """The first expected line not found, in order, among the output's lines."""
    actual = [_normal(line) for line in output.splitlines()]
    position = 0
    for line in expected:
        if not _normal(line):
            continue
        pattern = _pattern(line)
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        if position == len(actual):
            return line
        position += 1
    return None


def test_the_page_parses() -> None:
    parsed = steps(PAGE.read_text())
    assert parsed[0].command == "make run"
    assert any(s.command.startswith("stellwerk servers create") for s in parsed)
    assert any(
        s.command.endswith("stellwerk login --username admin --password-stdin") for s in parsed
    )
    assert missing(["a … c", "d"], "x\na  b  c\nd\n") is None
    assert missing(["d", "a … c"], "a b c\nd\n") == "a … c"


def test_getting_started_runs_as_written(tmp_path: Path) -> None:
    env = base_env(tmp_path / "var")
    del env["STELLWERK_SANDBOX_PORT"]  # as `make run`: nothing but what the page sets
    # STELLWERK_URL stays: the port is not 8000. The CLI logs in as the page says
    # (into STELLWERK_CLI_CONFIG under tmp_path); no STELLWERK_TOKEN is set.
    assert "STELLWERK_TOKEN" not in env
    env["STELLWERK_REDIRECT_WORKERS"] = "1"
    server = ServeProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        key = re.search(r"License API key \(X-API-Key\): (\S+)", server.log())
        assert key is not None, server.log()[-3000:]
        assert "Stellwerk" in server.log()
        # The ready panel follows the first answered /health by a moment.
        deadline = time.monotonic() + 15
        while "is running" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "is running" in server.log()
        shell = {
            **env,
            "PATH": f"{Path(STELLWERK).parent}{os.pathsep}{env['PATH']}",
            "COLUMNS": "100",
            "AF_KEY": key.group(1),
            "ADMIN_PASSWORD": env["STELLWERK_ADMIN_PASSWORD"],  # printed in the box
        }
        ports = {
            "localhost:8000": f"localhost:{env['STELLWERK_PORT']}",
            "localhost:8080": f"localhost:{env['STELLWERK_REDIRECT_PORT']}",
        }
        for step in steps(PAGE.read_text()):
            if step.command == "make run":
                continue  # the server above
            command = step.command
            for shown, real in ports.items():
                command = command.replace(shown, real)
            export = EXPORT.match(command)
            if export is not None:
                name, value = export.groups()
                if "…" in value:  # a value from the start box: set above
                    assert name in shell
                    continue
                command = f'export {name}={value}\nprintf %s "${name}"'
            deadline = time.monotonic() + (15 if any(s in command for s in SETTLING) else 0)
            while True:
                ran = subprocess.run(
                    ["bash", "-c", f"set -eo pipefail\n{command}"],
                    env=shell,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=300,
                )
                absent = missing(step.expected, ran.stdout)
                if (ran.returncode == 0 and absent is None) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert ran.returncode == 0, (step.command, ran.stdout)
            assert absent is None, (step.command, absent, ran.stdout)
            if export is not None:
                shell[export.group(1)] = ran.stdout
    finally:
        server.stop()
