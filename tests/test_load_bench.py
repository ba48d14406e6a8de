"""The load benchmarks run end to end in their short modes with no failed request (no timing
assertions: the numbers belong in docs/benchmarks.md, measured in full mode)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_available

BENCH = Path(__file__).resolve().parents[1] / "bench" / "load"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not postgres_available(), reason="the load benchmarks need PostgreSQL"),
]


def _run(script: str) -> str:
    finished = subprocess.run(
        [sys.executable, str(BENCH / script), "--short"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def _result(output: str, label: str) -> re.Match[str]:
    row = re.search(
        rf"^{label}\s+([\d,]+) req/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms\s+errors (\d+)"
        r"\s+requests ([\d,]+)\s+peak RSS ([\d,.]+) MiB \(high-water since start ([\d,.]+) MiB\)$",
        output,
        re.M,
    )
    assert row is not None, output
    return row


def test_license_clients_short_run_has_no_errors() -> None:
    row = _result(_run("license_clients.py"), "license clients")
    assert int(row[4]) == 0
    assert int(row[5].replace(",", "")) > 0
    assert float(row[6].replace(",", "")) > 10  # the server's memory was measured


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_api_reads_short_run_has_no_errors() -> None:
    row = _result(_run("api_reads.py"), "api reads")
    assert int(row[4]) == 0
    assert int(row[5].replace(",", "")) > 0
    assert float(row[6].replace(",", "")) > 10
