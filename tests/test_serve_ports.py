"""`stellwerk serve` as a new user starts it: two on one host with only their own ports set both
run (the sandboxes take free ports), and a taken port ends the start with one line naming it."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.process import STELLWERK, ServeProcess, base_env

pytestmark = pytest.mark.slow


def _env(data_dir: Path) -> dict[str, str]:
    env = base_env(data_dir)
    del env["STELLWERK_SANDBOX_PORT"]  # nothing but the two ports (and the data directory)
    env["STELLWERK_REDIRECT_WORKERS"] = "1"
    return env


def test_two_instances_on_one_host_both_start(tmp_path: Path) -> None:
    first = ServeProcess(_env(tmp_path / "one"), tmp_path / "one.log")
    second = ServeProcess(_env(tmp_path / "two"), tmp_path / "two.log")
    try:
        first.start()
        second.start()
        sandboxes = [httpx.get(f"{s.url}/status").json()["sandboxes"] for s in (first, second)]
        assert set(sandboxes[0]) == {"inwx", "coolify", "hetzner", "linode", "digitalocean"}
        assert not set(sandboxes[0].values()) & set(sandboxes[1].values())
        for urls in sandboxes:  # each answers, and the start box showed where
            assert httpx.get(f"{urls['hetzner']}/server_types").status_code == 401
        assert sandboxes[0]["inwx"] in first.log()
    finally:
        first.stop()
        second.stop()


def test_a_taken_port_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for setting in ("STELLWERK_PORT", "STELLWERK_REDIRECT_PORT"):
            env = {**_env(tmp_path / setting), setting: str(port)}
            started = subprocess.run(
                [STELLWERK, "serve"], env=env, capture_output=True, text=True, timeout=60
            )
            assert started.returncode == 2, started.stderr
            assert started.stderr == (
                f"error: port {port} ({setting}) is already in use on 127.0.0.1; "
                f"stop what listens there or set {setting} to a free port\n"
            )
