"""`stellwerk import ...` as an operator runs it: JSON reports, and an import killed halfway
(SIGKILL) that is started again and completes without duplicates."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.importer.nexredirect_source import BROWSER, build
from tests.process import STELLWERK, base_env, run_cli

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    """An installation of its own (SQLite), apart from the test app and its periodic jobs."""
    env = base_env(tmp_path / "cli")
    env["STELLWERK_SECRET_KEY"] = "test-secret-key-not-for-production"
    return env


def _stored(tmp_path: Path) -> tuple[int, int]:
    """Hits stored and hits counted in the daily rollups of the installation."""
    db = sqlite3.connect(tmp_path / "cli" / "stellwerk.sqlite")
    hits = int(db.execute("SELECT count(*) FROM redirect_hits").fetchone()[0])
    counted = int(db.execute("SELECT sum(hits) FROM redirect_daily_totals").fetchone()[0])
    db.close()
    return hits, counted


def _runs(tmp_path: Path) -> list[tuple[str, int]]:
    """(status, dry run) of the installation's import operations, oldest first."""
    db = sqlite3.connect(tmp_path / "cli" / "stellwerk.sqlite")
    rows = db.execute(
        "SELECT status, input FROM operations WHERE kind = 'import.nexredirect' ORDER BY created_at"
    ).fetchall()
    db.close()
    return [(str(status), int(json.loads(data)["dry_run"])) for status, data in rows]


def _more_hits(path: Path, count: int) -> int:
    db = sqlite3.connect(path)
    now = int(time.time() * 1000)
    db.executemany(
        "INSERT INTO hits (domain_id, ts, ip_hash, country, user_agent, referer, path) "
        "VALUES (1, ?, ?, 'DE', ?, NULL, '/')",
        [(now - n, f"{n:064x}", BROWSER) for n in range(count)],
    )
    db.commit()
    total = int(db.execute("SELECT count(*) FROM hits").fetchone()[0])
    db.close()
    return total


def test_dry_run_then_import_with_json_and_a_kill_halfway(tmp_path: Path) -> None:
    source = build(tmp_path / "nexredirect.db")
    total = _more_hits(source, 3000)
    env = _env(tmp_path)

    dry = run_cli("import", "nexredirect", "--sqlite", str(source), "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["counts"]["hit"]["create"] == total

    process = subprocess.Popen(
        [STELLWERK, "import", "nexredirect", "--sqlite", str(source), "--batch", "20", "--apply"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if "hits:" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(10)

    again = run_cli("import", "nexredirect", "--sqlite", str(source), "--apply", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout, again.stderr
    assert json.loads(again.stdout)["dry_run"] is False

    assert _stored(tmp_path) == (total, total)
    # The killed import's operation was taken up again, not started a second time.
    assert _runs(tmp_path) == [("completed", 1), ("completed", 0)]

    third = run_cli("import", "nexredirect", "--sqlite", str(source), "--apply", "--json", env=env)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["changes"] == 0


def test_export_and_import_on_the_command_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    source = build(tmp_path / "nexredirect.db")
    assert (
        run_cli("import", "nexredirect", "--sqlite", str(source), "--apply", env=env).returncode
        == 0
    )
    env["STELLWERK_EXPORT_PASSPHRASE"] = "a passphrase for the test"
    exported = run_cli(
        "export", "--to", str(tmp_path / "export"), "--include-secrets", "--json", env=env
    )
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads(exported.stdout)
    assert manifest["secrets"] is True
    assert manifest["tables"]["redirect_domains"] == 3

    other = base_env(tmp_path / "other")
    other["STELLWERK_SECRET_KEY"] = "another-test-secret-key-for-the-move"
    other["STELLWERK_EXPORT_PASSPHRASE"] = env["STELLWERK_EXPORT_PASSPHRASE"]
    imported = run_cli(
        "import", "stellwerk", str(tmp_path / "export"), "--apply", "--json", env=other
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["counts"]["redirect_domains"]["create"] == 3
    again = run_cli("import", "stellwerk", str(tmp_path / "export"), "--apply", "--json", env=other)
    assert json.loads(again.stdout)["changes"] == 0
