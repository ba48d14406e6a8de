"""The global search benchmark runs end to end in its short mode (no timing assertions here:
the numbers belong in docs/benchmarks.md, measured in full mode)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_available
from tests.test_migrations import TRIGRAM_INDEXES

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "search.py"


@pytest.mark.slow
@pytest.mark.skipif(not postgres_available(), reason="the benchmark needs PostgreSQL")
def test_short_benchmark_times_every_query() -> None:
    finished = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--short",
            "--database",
            f"stellwerk_bench_search_test_{os.getpid()}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    listed = re.search(r"^trigram indexes: (.*)$", finished.stdout, re.M)
    assert listed is not None, finished.stdout
    assert set(listed[1].split(", ")) == TRIGRAM_INDEXES
    timed = re.findall(r"^.+ [\d,]+\s+(\d+\.\d)\s+\d+\.\d$", finished.stdout, re.M)
    assert len(timed) == 7, finished.stdout
    assert len(re.findall(r"^EXPLAIN ", finished.stdout, re.M)) == 7
