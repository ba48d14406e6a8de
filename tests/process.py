"""Running `stellwerk` as a real process, as an operator would: crash, CLI and end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

STELLWERK = str(Path(sys.executable).with_name("stellwerk"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SANDBOX_PORTS_FROM = 20_000  # sandbox ports are chosen from here up to the ephemeral range


def free_sandbox_base_port() -> int:
    """A `STELLWERK_SANDBOX_PORT` whose sandbox ports (+1..+5) are free: the sandboxes keep their
    URLs across a restart, and CLI commands next to `stellwerk serve` find them.

    Chosen below the kernel's ephemeral range: a port in it can be given to any process's
    outgoing connection (to PostgreSQL, say) between this check and the sandboxes' bind."""
    low = _ephemeral_low()
    for _ in range(200):
        base = random.randrange(SANDBOX_PORTS_FROM, low - 6)
        try:
            for offset in range(1, 6):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the sandboxes")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 by default)."""
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        if low > SANDBOX_PORTS_FROM + 1000:
            return low
    return 32_768


# Tests wait for operations one after another: their workers ask the queues often.
QUEUE_POLL_SECONDS = 0.1


def base_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """A clean environment for a process on its own data directory and ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
    port = free_port()
    env.update(
        {
            "STELLWERK_DATA_DIR": str(data_dir),
            "STELLWERK_HOST": "127.0.0.1",
            "STELLWERK_PORT": str(port),
            # The first start creates this admin; `run_cli` logs in as it.
            "STELLWERK_ADMIN_USERNAME": ADMIN_USERNAME,
            "STELLWERK_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "STELLWERK_URL": f"http://127.0.0.1:{port}",
            "STELLWERK_CLI_CONFIG": str(data_dir.parent / "cli.toml"),
            "STELLWERK_REDIRECT_PORT": str(free_port()),
            "STELLWERK_SANDBOX_PORT": "0",
            "STELLWERK_SECRET_KEY": "process-test-secret-key-not-for-production",
            "STELLWERK_LOG_FORMAT": "json",
            "STELLWERK_DATABASE_POOL_SIZE": "4",
            "STELLWERK_QUEUE_POLL_SECONDS": str(QUEUE_POLL_SECONDS),
        }
    )
    if database_url:
        env["STELLWERK_DATABASE_URL"] = database_url
    return env


ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "process-test-password"
_tokens: dict[tuple[str, str], str] = {}


def cli_token(env: Mapping[str, str]) -> str | None:
    """An API token of the first-start admin (`STELLWERK_ADMIN_USERNAME`) of the server at
    `STELLWERK_URL` (None while it is not running); one per server and data directory."""
    url = env.get("STELLWERK_URL")
    username, password = env.get("STELLWERK_ADMIN_USERNAME"), env.get("STELLWERK_ADMIN_PASSWORD")
    if not url or not username or not password:
        return None
    key = (url, env.get("STELLWERK_DATABASE_URL") or env.get("STELLWERK_DATA_DIR", ""))
    if key in _tokens:
        return _tokens[key]
    try:
        login = httpx.post(
            f"{url}/api/auth/login",
            json={"username": username, "password": password},
            timeout=10,
        )
    except httpx.HTTPError:
        return None
    if login.status_code != 200:
        return None
    made = httpx.post(
        f"{url}/api/tokens",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        json={"name": "tests", "scopes": ["admin"]},
        timeout=10,
    )
    made.raise_for_status()
    _tokens[key] = str(made.json()["token"])
    return _tokens[key]


def run_cli(
    *args: str, env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`stellwerk ARGS` as a process; commands that talk to the server log in as its admin."""
    full = dict(env)
    if "STELLWERK_TOKEN" not in full:
        token = cli_token(full)
        if token:
            full["STELLWERK_TOKEN"] = token
    return subprocess.run(
        [STELLWERK, *args], env=full, input=stdin, capture_output=True, text=True, timeout=120
    )


class ServeProcess:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.env['STELLWERK_PORT']}"

    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [STELLWERK, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"stellwerk serve exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"stellwerk serve did not come up: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def database_bytes(env: Mapping[str, str]) -> bytes:
    """All the process stored: its SQLite files, or a data dump of its PostgreSQL database."""
    url = env.get("STELLWERK_DATABASE_URL")
    if url:
        dump = subprocess.run(
            ["pg_dump", "--data-only", url], capture_output=True, timeout=120, check=True
        )
        return dump.stdout
    data_dir = Path(env["STELLWERK_DATA_DIR"])
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("*.sqlite*")))
