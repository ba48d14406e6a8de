"""A data plane worker that cannot start stops its parent with the reason, instead of being
started again and again behind a parent that looks healthy."""

from __future__ import annotations

import multiprocessing.connection
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from stellwerk import serve
from stellwerk.config import Settings
from stellwerk.redirect import workers
from stellwerk.redirect.workers import DataPlaneWorkers, StartFailed


def _settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        secret_key="test-secret-key-not-for-production",
        sandbox=False,
        redirect_workers=1,
        host="127.0.0.1",
        redirect_port=0,
    )


class _Broken:
    @classmethod
    def from_settings(cls, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the routing table cannot be read\nsecond line")


def _supervise(plane: DataPlaneWorkers, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        multiprocessing.connection.wait(plane.sentinels, timeout=0.2)
        plane.replace_dead()


def test_a_worker_that_cannot_start_raises_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "DataPlane", _Broken)  # forked workers inherit it
    plane = DataPlaneWorkers(_settings(tmp_path), "127.0.0.1", 0, 1)
    plane.start()
    try:
        with pytest.raises(StartFailed) as failed:
            _supervise(plane, seconds=20)
        assert failed.value.message == (
            "A redirect data plane worker could not start: "
            "RuntimeError: the routing table cannot be read"
        )
    finally:
        plane.stop()


def _api_that_waits(*_args: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as the real API process does
    time.sleep(30)


def test_stellwerk_serve_exits_non_zero_when_its_data_plane_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(workers, "DataPlane", _Broken)
    monkeypatch.setattr(serve, "_api_process", _api_that_waits)
    started = time.monotonic()
    assert serve.run(_settings(tmp_path)) == 1
    assert time.monotonic() - started < 20  # not restarted over and over
    assert "error: A redirect data plane worker could not start" in capfd.readouterr().err


def _api_that_fails(*_args: Any) -> None:
    raise SystemExit(3)


def test_stellwerk_serve_exits_non_zero_when_its_api_process_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "_api_process", _api_that_fails)
    assert serve.run(_settings(tmp_path)) == 3
    assert "error: The API process exited with code 3" in capfd.readouterr().err


def test_a_hit_writer_that_dies_is_replaced_unless_it_just_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plane = DataPlaneWorkers(_settings(tmp_path), "127.0.0.1", 0, 1)
    plane.start()
    try:
        first = plane.writer
        assert first is not None
        monkeypatch.setattr(workers, "WRITER_START_SECONDS", 0.0)  # long since started
        first.kill()
        first.join(10)
        plane.replace_dead()
        assert plane.writer is not first
        assert plane.writer is not None
        assert plane.writer.is_alive()
        monkeypatch.setattr(workers, "WRITER_START_SECONDS", 3600.0)  # ended right after start
        plane.writer.kill()
        plane.writer.join(10)
        with pytest.raises(StartFailed, match="hit writer could not start"):
            plane.replace_dead()
    finally:
        plane.stop()
