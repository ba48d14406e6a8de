"""The license benchmark runs end to end in its short mode (no timing assertions here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_available

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "license_verify" / "run.py"


@pytest.mark.skipif(not postgres_available(), reason="the benchmark needs PostgreSQL")
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_short_benchmark_prints_ratios() -> None:
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), "--short"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    for endpoint in ("verify", "activate", "heartbeat"):
        row = re.search(
            rf"^{endpoint}\s+[\d,]+\s.*\s(\d+\.\d\d)\s+\d\.\d\d$", finished.stdout, re.M
        )
        assert row is not None, finished.stdout
        assert float(row[1]) > 0
