"""The default set-up's benchmark (`make run`: one `stellwerk serve` on SQLite) runs end to end in
its short mode: every server answers, nothing fails, and every redirect answered is a stored hit
(no timing assertions: the numbers belong in docs/benchmarks.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "default" / "run.py"


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("wrk", "nginx", "caddy")),
    reason="wrk, nginx and caddy are needed (scripts/install-system-deps)",
)
def test_short_mode_measures_everything_and_stores_every_hit() -> None:
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), "--short"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    for label in ("Stellwerk data plane", "Stellwerk, verify", "`GET /health`", "mixed API reads"):
        assert label in finished.stdout
    assert "hits stored (ok)" in finished.stdout
    assert "errors (non-2xx/3xx, socket): 0" in finished.stdout
