"""The benchmarks' short modes still run and keep their promises (not their absolute numbers:
the machine is shared)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "redirect"


def test_stats_benchmark_short_mode() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "stats.py"), "--short"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "| summary (1000 domains), days=365 |" in result.stdout


def test_wrk_benchmark_short_mode_stores_every_hit() -> None:
    if not all(shutil.which(tool) for tool in ("wrk", "nginx", "caddy")):
        pytest.skip("wrk, nginx and caddy are needed (scripts/install-system-deps)")
    result = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--short"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert "| Stellwerk data plane" in result.stdout
    assert "MISSING" not in result.stdout
    assert "hits stored (ok)" in result.stdout
