"""Following an operation waits out the token's rate limit instead of failing."""

from __future__ import annotations

from typing import Any

import pytest

from stellwerk.cli import progress
from stellwerk.cli.client import CliError


class _Api:
    as_json = True

    def __init__(self) -> None:
        self.calls = 0

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 2:
            raise CliError("Too many requests", code="rate_limited", status=429, retry_after=7)
        done = self.calls >= 3
        return {
            "id": "op",
            "kind": "probe",
            "status": "completed" if done else "running",
            "progress": 100 if done else 50,
            "message": "",
            "prompts": [],
        }


def test_a_rate_limited_poll_waits_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(progress.time, "sleep", slept.append)
    api = _Api()
    operation = progress.follow_operation(api, "op", quiet=True)  # type: ignore[arg-type]
    assert operation["status"] == "completed"
    assert api.calls == 3
    assert 7.0 in slept
