"""The workflow engine knows no domain: it is handed the workflow modules at start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stellwerk.config import Settings
from stellwerk.operation.engine import Engine

DOMAINS = ("project", "module", "server", "license", "redirect", "dns", "registrar", "customer")


def test_the_engine_imports_no_domain() -> None:
    code = (
        "import sys, stellwerk.operation.engine\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in {DOMAINS!r}"
        " and m.startswith('stellwerk.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]"


async def test_an_engine_needs_the_workflow_modules_to_start() -> None:
    engine = Engine(Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="modules defining workflows"):
        await engine.launch()
