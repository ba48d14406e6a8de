"""Which periodic jobs a process takes part in."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellwerk.cli.main import app
from stellwerk.config import Settings, UnsafeConfiguration
from stellwerk.jobs import JOBS, enabled_jobs


def _settings(tmp_path: Path, disabled: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, disabled_jobs=disabled)  # type: ignore[call-arg]


def test_every_job_runs_unless_disabled(tmp_path: Path) -> None:
    assert enabled_jobs(_settings(tmp_path, "")) == JOBS
    names = [job.name for job in enabled_jobs(_settings(tmp_path, " redirect.target_checks, "))]
    assert "redirect.target_checks" not in names
    assert len(names) == len(JOBS) - 1


def test_an_unknown_job_name_is_refused_with_the_names(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        enabled_jobs(_settings(tmp_path, "redirect.target_check"))
    message = str(refused.value)
    assert message.startswith("Refusing to start: STELLWERK_DISABLED_JOBS names no job")
    assert "redirect.target_checks" in message  # the list to pick from
    assert "\n" not in message


def test_the_documented_jobs_are_the_jobs() -> None:
    text = (Path(__file__).parents[1] / "docs" / "deployment.md").read_text()
    for job in JOBS:
        assert f"| `{job.name}` |" in text, job.name


def test_serve_refuses_an_unknown_job_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path)], env={"STELLWERK_DISABLED_JOBS": "nope"}
    )
    assert result.exit_code == 1, result.output
    assert "STELLWERK_DISABLED_JOBS names no job nope" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
