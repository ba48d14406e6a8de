"""License client API: Stellwerk vs the bare reference (raw ASGI + asyncpg), measured with wrk.

Creates a throwaway PostgreSQL database (127.0.0.1:5432, user postgres) with 100,000 licenses,
200,000 activations and 20,000 open sessions (COPY), serves Stellwerk and `bare.py` the same way
(granian, ASGI, uvloop, 1 worker, HTTP/1, fresh server per round), and runs
`wrk -t2 -c64 -d10s --timeout 5s --latency` against verify, activate and session heartbeat of
both, interleaved (the order of the two servers alternates per round), 3 rounds; medians.
Before each measured run it waits up to 20 s for the machine to be less than 25 % busy. The
verify answers of both servers must be identical. Everything stays on 127.0.0.1; servers are
stopped by pid, the database is dropped at the end.

    .venv/bin/python bench/license_verify/run.py            # 3 rounds of 10 s (5-8 minutes)
    .venv/bin/python bench/license_verify/run.py --short    # 1 round of 1 s, small data
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson

HERE = Path(__file__).resolve().parent
GRANIAN = str(Path(sys.executable).with_name("granian"))
PG = "postgresql://postgres@127.0.0.1:5432"
API_KEY = "AF-2026-" + "BenchKey" * 4
KEY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LATEST = "1.2.0"
ENDPOINTS = {
    "verify": "/api/license/verify",
    "activate": "/api/license/activate",
    "heartbeat": "/api/license/session/heartbeat",
}
TARGETS = {"verify": 0.85, "activate": 0.3, "heartbeat": 0.3}


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


# --- Data ---------------------------------------------------------------------------------------


def hardware(license_no: int, device: int) -> str:
    return hashlib.sha256(f"hw-{license_no}-{device}".encode()).hexdigest()


def token(license_no: int) -> str:
    return f"bench-session-{license_no:08d}"


async def create_database(name: str, licenses: int, sessions: int) -> list[str]:
    admin = await asyncpg.connect(f"{PG}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    from stellwerk.migrate import upgrade_async

    await upgrade_async(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    rng = random.Random(42)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    keys: set[str] = set()
    while len(keys) < licenses:
        keys.add("-".join("".join(rng.choices(KEY_ALPHABET, k=4)) for _ in range(4)))
    ordered = sorted(keys)
    rng.shuffle(ordered)
    connection = await asyncpg.connect(f"{PG}/{name}")
    try:
        await connection.copy_records_to_table(
            "customers",
            columns=["id", "name", "email", "created_at", "updated_at"],
            records=[(i, f"Customer {i}", f"c{i}@example.com", now, now) for i in range(1, 1001)],
        )
        await connection.copy_records_to_table(
            "licenses",
            columns=[
                "id",
                "license_key",
                "customer_id",
                "license_type",
                "valid_from",
                "valid_until",
                "max_activations",
                "max_users",
                "is_active",
                "created_at",
                "updated_at",
            ],  # fmt: skip
            records=[
                (
                    i + 1,
                    key,
                    i % 1000 + 1,
                    "subscription",
                    dt.date(2024, 1, 1),
                    today + dt.timedelta(days=rng.randint(365, 4 * 365)),
                    5,
                    3,
                    True,
                    now,
                    now,
                )  # fmt: skip
                for i, key in enumerate(ordered)
            ],
        )
        await connection.copy_records_to_table(
            "license_activations",
            columns=[
                "license_id",
                "hardware_hash",
                "machine_name",
                "app_version",
                "activated_at",
                "last_heartbeat",
                "is_active",
            ],  # fmt: skip
            records=[
                (i + 1, hardware(i, d), f"PC-{i}-{d}", LATEST, now, now, True)
                for i in range(licenses)
                for d in (0, 1)
            ],
        )
        await connection.execute(
            "INSERT INTO client_configs (id, name, current_version, heartbeat_interval,"
            " session_timeout, single_session, created_at, updated_at)"
            " VALUES (1000, 'Bench App', $1, 30, 604800, false, $2, $2)",
            LATEST,
            now,
        )
        await connection.copy_records_to_table(
            "license_sessions",
            columns=[
                "token_hash",
                "license_id",
                "client_config_id",
                "machine_id",
                "hardware_hash",
                "version",
                "started_at",
                "last_heartbeat",
            ],  # fmt: skip
            records=[
                (
                    hashlib.sha256(token(i).encode()).hexdigest(),
                    i + 1,
                    1000,
                    f"PC-{i}-0",
                    hardware(i, 0),
                    LATEST,
                    now,
                    now,
                )  # fmt: skip
                for i in range(sessions)
            ],
        )
        await connection.execute(
            "INSERT INTO releases (version, channel, release_date, download_url,"
            " min_supported_version, created_at, updated_at)"
            " VALUES ($1, 'stable', $2, 'https://example.com/app-1.2.0', '1.0.0', $3, $3)",
            LATEST,
            today,
            now,
        )
        await connection.execute(
            "INSERT INTO system_api_keys (key_hash, prefix, created_at, is_current)"
            " VALUES ($1, $2, $3, true)",
            hashlib.sha256(API_KEY.encode()).hexdigest(),
            API_KEY[:12],
            now,
        )
        for table in ("customers", "licenses", "license_activations", "client_configs"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return ordered


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(f"{PG}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def write_bodies(folder: Path, keys: list[str], sessions: int) -> dict[str, Path]:
    files = {name: folder / f"{name}.jsonl" for name in ENDPOINTS}
    with files["verify"].open("wb") as out:
        for i, key in enumerate(keys):
            for device in (0, 1):
                body = {"license_key": key, "hardware_hash": hardware(i, device)}
                out.write(orjson.dumps({**body, "app_version": LATEST}) + b"\n")
    with files["activate"].open("wb") as out:
        for i, key in enumerate(keys):
            body = {"license_key": key, "hardware_hash": hardware(i, 0)}
            out.write(orjson.dumps({**body, "machine_name": f"PC-{i}-0"}) + b"\n")
    with files["heartbeat"].open("wb") as out:
        for i in range(sessions):
            out.write(orjson.dumps({"session_token": token(i), "license_key": keys[i]}) + b"\n")
    return files


# --- Servers and wrk ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check(port: int, keys: list[str]) -> dict[str, object]:
    """The verify answer for the first license (the servers must agree on it)."""
    body = {"license_key": keys[0], "hardware_hash": hardware(0, 0), "app_version": LATEST}
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/license/verify",
        json=body,
        headers={"X-API-Key": API_KEY},
        timeout=5,
    )
    response.raise_for_status()
    answer: dict[str, object] = response.json()
    return answer


@contextlib.contextmanager
def serving(target: str, env: dict[str, str], log: Path, keys: list[str]) -> Iterator[int]:
    port = free_port()
    command = [
        GRANIAN, "--interface", "asgi", "--loop", "uvloop", "--workers", "1", "--http", "1",
        "--no-ws", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port),
        "--working-dir", str(HERE), target,
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                check(port, keys)
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{target} did not answer; see {log}")
            time.sleep(0.3)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def run_wrk(port: int, path: str, bodies: Path, seconds: int) -> Result:
    env = {
        **os.environ,
        "BENCH_BODIES": str(bodies),
        "BENCH_API_KEY": API_KEY,
        "BENCH_PATH": path,
    }
    command = [
        "wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(HERE / "requests.lua"), f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    output = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output)[1])  # type: ignore[index]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?timeout (\d+)"):
        found = re.search(pattern, output)
        errors += int(found[1]) if found else 0
    return Result(rps, p50, p99, errors)


def busy_share(seconds: float = 1.0) -> float:
    """The share of all CPUs busy over `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]
        return idle, sum(values)

    idle_before, total_before = sample()
    time.sleep(seconds)
    idle_after, total_after = sample()
    total = max(1, total_after - total_before)
    return 1.0 - (idle_after - idle_before) / total


def wait_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most `limit` seconds) until the machine is less than `threshold` busy."""
    deadline = time.monotonic() + limit
    busy = busy_share()
    while busy >= threshold and time.monotonic() < deadline:
        busy = busy_share()
    return busy


# --- The run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="1 round of 1 s on small data")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--keep-logs", action="store_true")
    options = parser.parse_args()
    rounds = options.rounds or (1 if options.short else 3)
    seconds = options.seconds or (1 if options.short else 10)
    warmup = 1 if options.short else 2  # wrk takes whole seconds
    # The machine is shared: before each run wait a little for it to calm down (bounded).
    quiet_wait = 0.0 if options.short else 20.0
    licenses, sessions = (2_000, 1_000) if options.short else (100_000, 20_000)
    name = f"stellwerk_bench_license_{os.getpid()}"
    folder = Path(tempfile.mkdtemp(prefix="bench-license-"))
    started = time.monotonic()
    try:
        keys = asyncio.run(create_database(name, licenses, sessions))
        print(
            f"database {name}: {licenses:,} licenses, {2 * licenses:,} activations, "
            f"{sessions:,} sessions ({time.monotonic() - started:.1f} s)",
            flush=True,
        )
        bodies = write_bodies(folder, keys, sessions)
        dsn = f"{PG}/{name}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
        envs = {
            "bare": ("bare:app", {**base, "BENCH_DSN": dsn}),
            "stellwerk": (
                "stellwerk_app:app",
                {
                    **base,
                    "STELLWERK_DATABASE_URL": dsn,
                    "STELLWERK_DATA_DIR": str(folder / "data"),
                    "STELLWERK_SECRET_KEY": "bench-secret-key-not-for-production",
                    "STELLWERK_WORKERS": "false",
                    "STELLWERK_SANDBOX": "false",
                    "STELLWERK_LOG_LEVEL": "WARNING",
                    # One client address sends everything here; the limiter still counts each
                    # request, with a limit this traffic does not reach.
                    "STELLWERK_LICENSE_RATE_LIMIT": "1000000/second",
                },
            ),
        }
        results: dict[tuple[str, str], list[Result]] = {}
        for number in range(rounds):
            order = ["bare", "stellwerk"] if number % 2 == 0 else ["stellwerk", "bare"]
            answers = {}
            for server in order:
                target, env = envs[server]
                with serving(target, env, folder / f"{server}.log", keys) as port:
                    answers[server] = check(port, keys)
                    for endpoint, path in ENDPOINTS.items():
                        run_wrk(port, path, bodies[endpoint], warmup)  # warm-up, not counted
                        busy = wait_quiet(quiet_wait)
                        result = run_wrk(port, path, bodies[endpoint], seconds)
                        results.setdefault((server, endpoint), []).append(result)
                        print(
                            f"round {number + 1} {server:9} {endpoint:9} {result.rps:9,.0f} req/s"
                            f"  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
                            f"  errors {result.errors}  busy before {busy:.0%}"
                            f"  load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
            if answers["bare"] != answers["stellwerk"]:
                raise RuntimeError(f"the verify answers differ: {answers}")
        print(f"\nmedians of {rounds} round(s) of {seconds} s, wrk -t2 -c64, granian 1 worker")
        print(f"{'endpoint':10} {'bare req/s':>11} {'p50':>6} {'p99':>6}"
              f" {'stellwerk':>10} {'p50':>6} {'p99':>6} {'ratio':>6} {'target':>6}")  # fmt: skip
        for endpoint in ENDPOINTS:
            bare, ours = results[("bare", endpoint)], results[("stellwerk", endpoint)]
            bare_rps = statistics.median(r.rps for r in bare)
            our_rps = statistics.median(r.rps for r in ours)
            print(
                f"{endpoint:10} {bare_rps:11,.0f} {statistics.median(r.p50_ms for r in bare):6.1f}"
                f" {statistics.median(r.p99_ms for r in bare):6.1f} {our_rps:10,.0f}"
                f" {statistics.median(r.p50_ms for r in ours):6.1f}"
                f" {statistics.median(r.p99_ms for r in ours):6.1f}"
                f" {our_rps / bare_rps:6.2f} {TARGETS[endpoint]:6.2f}"
            )
        print("per round (same round, servers back to back):")
        for endpoint in ENDPOINTS:
            pairs = zip(results[("bare", endpoint)], results[("stellwerk", endpoint)], strict=True)
            ratios = [ours.rps / bare.rps for bare, ours in pairs]
            print(
                f"  {endpoint:10} ratios {' '.join(f'{r:.2f}' for r in ratios)}"
                f"  median {statistics.median(ratios):.2f}"
            )
        errors = sum(r.errors for rs in results.values() for r in rs)
        print(f"errors (non-2xx + timeouts): {errors}; took {time.monotonic() - started:.0f} s")
        return 0
    finally:
        asyncio.run(drop_database(name))
        if not options.keep_logs:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs in {folder}")


if __name__ == "__main__":
    sys.exit(main())
