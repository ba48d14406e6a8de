"""What the load benchmarks share: a seeded PostgreSQL database, a `stellwerk serve` process,
peak memory from /proc, latency percentiles and the machine's load.

Everything stays on 127.0.0.1; the server is stopped by its pid and the database dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx

HERE = Path(__file__).resolve().parent
STELLWERK = str(Path(sys.executable).with_name("stellwerk"))
PG = "postgresql://postgres@127.0.0.1:5432"


def _license_bench() -> ModuleType:
    """The license benchmark's seeding code (COPY of licenses, activations, sessions, API key)."""
    path = HERE.parent / "license_verify" / "run.py"
    spec = importlib.util.spec_from_file_location("license_verify_run", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


seed = _license_bench()
API_KEY: str = seed.API_KEY
LATEST: str = seed.LATEST


def hardware(license_no: int, device: int) -> str:
    return str(seed.hardware(license_no, device))


def session_token(license_no: int) -> str:
    return str(seed.token(license_no))


def create_database(name: str, licenses: int, sessions: int) -> list[str]:
    """A new database `name` with the license benchmark's data; returns the license keys."""
    keys: list[str] = asyncio.run(seed.create_database(name, licenses, sessions))
    return keys


def drop_database(name: str) -> None:
    asyncio.run(seed.drop_database(name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
    env.update(
        {
            "STELLWERK_DATABASE_URL": f"{PG}/{database}",
            "STELLWERK_DATA_DIR": str(data_dir),
            "STELLWERK_HOST": "127.0.0.1",
            "STELLWERK_PORT": str(free_port()),
            "STELLWERK_REDIRECT_PORT": str(free_port()),
            "STELLWERK_SANDBOX": "false",
            "STELLWERK_SECRET_KEY": "bench-secret-key-not-for-production",
            "STELLWERK_LOG_LEVEL": "WARNING",
            "STELLWERK_LOG_FORMAT": "json",
            "STELLWERK_ADMIN_USERNAME": "bench-admin",
            "STELLWERK_ADMIN_PASSWORD": "bench-admin-password",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def stellwerk_serve(env: dict[str, str], log: Path, timeout: float = 120) -> Iterator[int]:
    """`stellwerk serve` until the block ends; yields its pid."""
    url = f"http://127.0.0.1:{env['STELLWERK_PORT']}/health"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [STELLWERK, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"stellwerk serve did not come up; see {log}")
            time.sleep(0.3)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def admin_token(base_url: str, username: str, password: str) -> str:
    """An admin API token from the running server (the command line talks to it the same way)."""
    login = httpx.post(
        f"{base_url}/api/auth/login", json={"username": username, "password": password}, timeout=30
    )
    login.raise_for_status()
    made = httpx.post(
        f"{base_url}/api/tokens",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        json={"name": "bench", "scopes": ["admin"]},
        timeout=30,
    )
    made.raise_for_status()
    return str(made.json()["token"])


def run_cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [STELLWERK, *args], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout


# --- Memory -------------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/<pid>/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _status_kib(pid: int, field: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples the summed RSS of a process tree every `interval` s while the block runs (a
    thread, so a busy event loop does not delay it). `peak_mib` is the highest sum seen under
    load; `high_water_mib` the kernel's per-process high-water marks (VmHWM) summed, which
    include start-up (imports and migrations)."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.high_water_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()
        self.high_water_kib = sum(_status_kib(p, "VmHWM") for p in _tree(self.pid))

    def _sample(self) -> None:
        self.peak_kib = max(self.peak_kib, sum(_status_kib(p, "VmRSS") for p in _tree(self.pid)))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    @property
    def high_water_mib(self) -> float:
        return self.high_water_kib / 1024


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float
    high_water_mib: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:24} {self.rps:9,.0f} req/s  p50 {self.p50_ms:7.1f} ms"
            f"  p99 {self.p99_ms:7.1f} ms  errors {self.errors}"
            f"  requests {self.requests:,}  peak RSS {self.peak_rss_mib:,.1f} MiB"
            f" (high-water since start {self.high_water_mib:,.1f} MiB)"
        )


def percentile(sorted_values: Sequence[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def conditions() -> str:
    """Date, CPUs and load, for the record."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}, {os.cpu_count()} CPUs, load average {load}"
