"""`stellwerk sandbox` runs every registered sandbox alone on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.process import STELLWERK, base_env

pytestmark = pytest.mark.slow


def test_sandbox_command_serves_inwx_and_coolify(tmp_path: Path) -> None:
    env = base_env(tmp_path / "var")
    process = subprocess.Popen(
        [STELLWERK, "sandbox", "--port", "0", "--json", "--no-persist"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        urls: dict[str, str] = {}
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            try:
                urls = json.loads("".join(lines))
                break
            except ValueError:
                continue
        assert {"inwx", "coolify"} <= set(urls), lines
        assert urls["coolify"].endswith("/api/v1")
        servers = httpx.get(
            f"{urls['coolify']}/servers", headers={"Authorization": "Bearer sandbox-x"}
        )
        assert servers.json()[0]["name"] == "hetzner-1"
        login = httpx.post(
            f"{urls['inwx']}/jsonrpc/",
            json={"method": "account.login", "params": {"user": "sandbox-a", "pass": "sandbox-b"}},
        )
        assert login.json()["code"] == 1000
    finally:
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
