"""Stellwerk as `make run` starts it, measured in one run.

One `stellwerk serve` on SQLite with its defaults (data plane workers, workflow engine, periodic
jobs, provider sandboxes, access log), on free loopback ports in a scratch data directory. The
only settings changed besides ports and directory: the per-client rate limits of license clients
and API tokens, because wrk sends everything from one address with one token (the limiters still
count every request). Measured with `wrk -t2 -c64 --timeout 5s --latency`, rounds interleaved:

- redirects: the data plane (hit logging on) against nginx `return 301` with the same number of
  worker processes and Caddy `redir`; after the graceful stop every answered request must be a
  stored hit;
- license client calls (verify, activate of an activated device, heartbeat of a live session)
  against the bare reference `bare_sqlite.py` (raw ASGI + sqlite3, the same lookups and bodies,
  served by uvicorn like the API) on the same SQLite file; the verify answers must be identical;
- `GET /health`, and a mixed read load: the API paths of `bench/load/api_reads.py` in turn.

All traffic goes to 127.0.0.1; every server is stopped by its pid; loops are bounded.

    .venv/bin/python bench/default/run.py             # 10 s per run, 3 rounds (about 10 minutes)
    .venv/bin/python bench/default/run.py --short     # 2 s, 1 round, small data (a smoke check)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.util
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import orjson

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
STELLWERK = str(Path(sys.executable).with_name("stellwerk"))
REDIRECT_HOST = "bench-old.example"
REDIRECT_TARGET = "https://bench-new.example"
REDIRECT_PATH = "/some/path?utm=x"
API_KEY = "AF-2026-" + "BenchKey" * 4
KEY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LATEST = "1.2.0"
LICENSE_PATHS = {
    "verify": "/api/license/verify",
    "activate": "/api/license/activate",
    "heartbeat": "/api/license/session/heartbeat",
}


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


redirect_bench = _load("bench_redirect_run", BENCH / "redirect" / "run.py")
sys.path.insert(0, str(BENCH / "load"))
api_reads = _load("bench_load_api_reads", BENCH / "load" / "api_reads.py")


# --- wrk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk(
    url: str,
    seconds: int,
    *,
    connections: int = 64,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, url],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output)[1])  # type: ignore[index]
    requests = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+)",
        r"Socket errors: .*?read (\d+)",
        r"Socket errors: .*?write (\d+)",
        r"Socket errors: .*?timeout (\d+)",
    ):
        found = re.search(pattern, output)
        errors += int(found[1]) if found else 0
    return Result(rps, p50, p99, requests, errors)


def busy_share(seconds: float = 1.0) -> float:
    """The share of all CPUs busy over `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return values[3] + values[4], sum(values)

    idle_before, total_before = sample()
    time.sleep(seconds)
    idle_after, total_after = sample()
    return 1.0 - (idle_after - idle_before) / max(1, total_after - total_before)


def quiet(limit: float = 0.15, seconds: float = 30.0) -> float:
    """Wait (at most `seconds`) until the machine is quiet: what a previous run left behind
    (the data plane's hit writer storing its backlog, a server finishing slow requests) must
    not be measured as part of the next run. The share of CPUs busy in the last second."""
    deadline = time.monotonic() + seconds
    busy = busy_share()
    while busy > limit and time.monotonic() < deadline:
        busy = busy_share()
    return busy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_base_port(span: int = 5) -> int:
    """A port whose next `span` ports are free too (the sandboxes listen on base + 1..5)."""
    for _ in range(50):
        base = free_port()
        try:
            for offset in range(1, span + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


# --- Stellwerk as `make run` starts it -----------------------------------------------------------


def stellwerk_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
    env.update(
        {
            "STELLWERK_DATA_DIR": str(data_dir),
            "STELLWERK_PORT": str(free_port()),
            "STELLWERK_REDIRECT_PORT": str(free_port()),
            "STELLWERK_SANDBOX_PORT": str(free_base_port()),
            # One client address and one token send everything: limits this traffic never
            # reaches (the documented defaults are 100 and 60 a minute).
            "STELLWERK_LICENSE_RATE_LIMIT": "1000000/second",
            "STELLWERK_TOKEN_RATE_LIMIT": "1000000/second",
        }
    )
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [STELLWERK, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def hardware(license_no: int, device: int) -> str:
    return hashlib.sha256(f"hw-{license_no}-{device}".encode()).hexdigest()


def session_token(license_no: int) -> str:
    return f"bench-session-{license_no:08d}"


def seed(database: Path, licenses: int, sessions: int) -> list[str]:
    """Licenses (two activated devices each), open sessions, a release and the system API key,
    written straight into the migrated SQLite file in the formats Stellwerk stores."""
    rng = random.Random(42)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    today = dt.date.today()
    keys: set[str] = set()
    while len(keys) < licenses:
        keys.add("-".join("".join(rng.choices(KEY_ALPHABET, k=4)) for _ in range(4)))
    ordered = sorted(keys)
    rng.shuffle(ordered)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.executemany(
            "INSERT INTO customers (id, name, email, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(i, f"Customer {i}", f"c{i}@example.com", now, now) for i in range(1, 1001)],
        )
        db.executemany(
            "INSERT INTO licenses (id, license_key, customer_id, license_type, valid_from,"
            " valid_until, max_activations, max_users, is_active, created_at, updated_at)"
            " VALUES (?, ?, ?, 'subscription', '2024-01-01', ?, 5, 3, 1, ?, ?)",
            [
                (
                    i + 1,
                    key,
                    i % 1000 + 1,
                    (today + dt.timedelta(days=rng.randint(365, 4 * 365))).isoformat(),
                    now,
                    now,
                )
                for i, key in enumerate(ordered)
            ],
        )
        db.executemany(
            "INSERT INTO license_activations (license_id, hardware_hash, machine_name,"
            " app_version, activated_at, last_heartbeat, is_active) VALUES (?, ?, ?, ?, ?, ?, 1)",
            [
                (i + 1, hardware(i, d), f"PC-{i}-{d}", LATEST, now, now)
                for i in range(licenses)
                for d in (0, 1)
            ],
        )
        db.execute(
            "INSERT INTO client_configs (id, name, current_version, heartbeat_interval,"
            " session_timeout, single_session, created_at, updated_at)"
            " VALUES (1000, 'Bench App', ?, 30, 604800, 0, ?, ?)",
            (LATEST, now, now),
        )
        db.executemany(
            "INSERT INTO license_sessions (token_hash, license_id, client_config_id, machine_id,"
            " hardware_hash, version, started_at, last_heartbeat)"
            " VALUES (?, ?, 1000, ?, ?, ?, ?, ?)",
            [
                (
                    hashlib.sha256(session_token(i).encode()).hexdigest(),
                    i + 1,
                    f"PC-{i}-0",
                    hardware(i, 0),
                    LATEST,
                    now,
                    now,
                )
                for i in range(sessions)
            ],
        )
        db.execute(
            "INSERT INTO releases (version, channel, release_date, download_url,"
            " min_supported_version, created_at, updated_at)"
            " VALUES (?, 'stable', ?, 'https://example.com/app-1.2.0', '1.0.0', ?, ?)",
            (LATEST, today.isoformat(), now, now),
        )
        db.execute(
            "INSERT INTO system_api_keys (key_hash, prefix, created_at, is_current)"
            " VALUES (?, ?, ?, 1)",
            (hashlib.sha256(API_KEY.encode()).hexdigest(), API_KEY[:12], now),
        )
        db.execute("ANALYZE")
    return ordered


def write_bodies(folder: Path, keys: list[str], sessions: int) -> dict[str, Path]:
    files = {name: folder / f"{name}.jsonl" for name in LICENSE_PATHS}
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
            body = {"session_token": session_token(i), "license_key": keys[i]}
            out.write(orjson.dumps(body) + b"\n")
    return files


def answers_200(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=2).status_code == 200
        return False

    return check


@contextlib.contextmanager
def running(
    command: list[str],
    env: dict[str, str],
    log: Path,
    ready: Callable[[], bool],
    stop: int = signal.SIGTERM,
    timeout: float = 120,
) -> Iterator[subprocess.Popen[bytes]]:
    """The server until the block ends (stopped by its pid, gracefully)."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{command[0]} did not come up; see {log}")
            time.sleep(0.3)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(stop)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def verify_answer(port: int, keys: list[str]) -> dict[str, object]:
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


def redirect_answers(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(
                f"http://127.0.0.1:{port}{REDIRECT_PATH}",
                headers={"Host": REDIRECT_HOST},
                timeout=2,
            )
            return response.status_code == 301 and response.headers["location"].startswith(
                REDIRECT_TARGET
            )
        return False

    return check


def stored_hits(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as db:
        query = "SELECT count(*) FROM redirect_hits WHERE host = ?"
        return int(db.execute(query, (REDIRECT_HOST,)).fetchone()[0])


# --- The run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="2 s, 1 round, small data")
    parser.add_argument("--seconds", type=int, default=None, help="per measured run (10)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    options = parser.parse_args()
    seconds = options.seconds or (2 if options.short else 10)
    rounds = options.rounds or (1 if options.short else 3)
    if not 1 <= seconds <= 120 or not 1 <= rounds <= 10:
        parser.error("1-120 seconds, 1-10 rounds")
    licenses, sessions, domains = (2_000, 1_000, 20) if options.short else (100_000, 20_000, 200)
    work = Path(tempfile.mkdtemp(prefix="bench-default-"))
    env = stellwerk_env(work / "var")
    database = work / "var" / "stellwerk.sqlite"
    port, redirect_port = int(env["STELLWERK_PORT"]), int(env["STELLWERK_REDIRECT_PORT"])
    api = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    print(f"conditions: {conditions()}", flush=True)
    cli(env, "migrate")
    keys = seed(database, licenses, sessions)
    bodies = write_bodies(work, keys, sessions)
    cli(env, "admin", "create", "-u", "bench", "--password-stdin", stdin="bench-password-1234\n")
    print(
        f"SQLite {database}: {licenses:,} licenses, {2 * licenses:,} devices,"
        f" {sessions:,} sessions ({time.monotonic() - started:.1f} s)",
        flush=True,
    )
    results: dict[str, list[Result]] = {}
    warmups: dict[str, list[Result]] = {}
    checks = 0
    serve_log = work / "serve.log"
    try:
        ready = answers_200(f"{api}/health")
        with running([STELLWERK, "serve"], env, serve_log, ready) as serve:
            workers = len(data_plane_workers(serve.pid))
            token = api_reads.loadkit.admin_token(api, "bench", "bench-password-1234")
            headers = {"Authorization": f"Bearer {token}"}
            server = dict(env, STELLWERK_URL=api, STELLWERK_TOKEN=token)
            cli(server, "redirect", "domains", "add", REDIRECT_HOST, "--target", REDIRECT_TARGET)
            api_reads.seed_domains(api, headers, domains)
            api_reads.check_paths(api, headers)
            paths_file = work / "paths.txt"
            paths_file.write_text("\n".join(api_reads.PATHS) + "\n")
            print(f"stellwerk serve (pid {serve.pid}): {workers} data plane workers", flush=True)
            # Where the mixed load's time goes: each path alone, one request at a time.
            alone = api_reads.time_paths(api, headers, 3 if options.short else 10)
            for path, ms in alone.items():
                print(f"  alone: {path:48} median {ms:7.1f} ms", flush=True)

            def measure(
                name: str,
                url: str,
                *,
                script: Path | None = None,
                headers: dict[str, str] | None = None,
                env: dict[str, str] | None = None,
            ) -> Result:
                busy = quiet(seconds=2.0 if options.short else 30.0)  # a smoke check waits little
                warm = wrk(url, 1, script=script, headers=headers, env=env)  # not counted
                result = wrk(url, seconds, script=script, headers=headers, env=env)
                results.setdefault(name, []).append(result)
                warmups.setdefault(name, []).append(warm)
                print(
                    f"  {name:22} {result.rps:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                    f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
                    f"  (busy before {busy:.0%}, load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                return result

            for number in range(rounds):
                print(f"round {number + 1}", flush=True)
                checks += redirects(work, number, workers, redirect_port, measure)
                licensing(work, number, port, database, keys, bodies, measure)
                measure("stellwerk /health", f"{api}/health")
                measure(
                    "stellwerk mixed reads",
                    f"{api}/",
                    script=BENCH / "load" / "paths.lua",
                    env={"BENCH_PATHS": str(paths_file), "BENCH_TOKEN": token},
                )
        # The graceful stop is over: every hit the data plane answered is stored by now.
        stored = stored_hits(database)
        served_redirects = checks + sum(
            r.requests for r in results["data plane"] + warmups["data plane"]
        )
        report(results, seconds, rounds, workers, served_redirects, stored)
        errors = sum(r.errors for rs in results.values() for r in rs)
        print(f"took {time.monotonic() - started:.0f} s; errors (non-2xx/3xx, socket): {errors}")
        return 0 if errors == 0 and stored >= served_redirects else 1
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            subprocess.run(["rm", "-rf", str(work)], check=False)


def data_plane_workers(master: int) -> set[int]:
    found = set()
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{child}/comm").read_text().strip() == "redirect-worker":
                found.add(int(child))
    return found


Measure = Callable[..., Result]


def redirects(work: Path, number: int, workers: int, port: int, measure: Measure) -> int:
    """nginx, Caddy and the data plane, in an order rotating per round; the readiness checks
    the data plane answered (hits too)."""
    headers = {"Host": REDIRECT_HOST}
    checks = 0
    order = ["nginx", "caddy", "stellwerk"]
    for name in order[number % 3 :] + order[: number % 3]:
        if name == "stellwerk":
            if not redirect_answers(port)():
                raise RuntimeError("the data plane does not answer the bench domain")
            checks += 1
            measure("data plane", f"http://127.0.0.1:{port}{REDIRECT_PATH}", headers=headers)
            continue
        folder = work / f"{name}-{number}"
        folder.mkdir()
        other = free_port()
        env = dict(os.environ)
        if name == "nginx":
            command = redirect_bench.nginx(folder, other, workers)
        else:
            command = redirect_bench.caddy(folder, other)
            env.update(HOME=str(folder), XDG_DATA_HOME=str(folder), XDG_CONFIG_HOME=str(folder))
        with running(command, env, folder / "server.log", redirect_answers(other)):
            measure(name, f"http://127.0.0.1:{other}{REDIRECT_PATH}", headers=headers)
    return checks


def licensing(
    work: Path,
    number: int,
    stellwerk_port: int,
    database: Path,
    keys: list[str],
    bodies: dict[str, Path],
    measure: Measure,
) -> None:
    """The bare reference (served like the API: uvicorn, uvloop, httptools, one process) and
    Stellwerk's API on the same SQLite file; the order alternates per round."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--host", "127.0.0.1",
        "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning", "bare_sqlite:app",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_SQLITE": str(database)}
    with running(command, env, work / "bare.log", lambda: _answers(port)):
        bare, ours = verify_answer(port, keys), verify_answer(stellwerk_port, keys)
        if bare != ours:
            raise RuntimeError(f"the verify answers differ:\n{bare}\n{ours}")
        servers = [("bare", port), ("stellwerk", stellwerk_port)]
        if number % 2:
            servers.reverse()
        for endpoint, path in LICENSE_PATHS.items():
            for server, server_port in servers:
                measure(
                    f"{server} {endpoint}",
                    f"http://127.0.0.1:{server_port}/",
                    script=BENCH / "license_verify" / "requests.lua",
                    env={
                        "BENCH_BODIES": str(bodies[endpoint]),
                        "BENCH_API_KEY": API_KEY,
                        "BENCH_PATH": path,
                    },
                )


def _answers(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        return True
    return False


def median(results: list[Result], field: str) -> float:
    return float(statistics.median(getattr(r, field) for r in results))


def report(
    results: dict[str, list[Result]],
    seconds: int,
    rounds: int,
    workers: int,
    served_redirects: int,
    stored: int,
) -> None:
    print(f"\nwrk -t2 -c64 -d{seconds}s, medians of {rounds} round(s)\n")
    print("| measured | req/s | p50 ms | p99 ms | ratio | target |")
    print("|---|---|---|---|---|---|")

    def line(label: str, name: str, base: str | None = None, target: str = "") -> None:
        rps = median(results[name], "rps")
        ratio = f"{rps / median(results[base], 'rps'):.2f}" if base else ""
        p50, p99 = median(results[name], "p50_ms"), median(results[name], "p99_ms")
        print(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {ratio} | {target} |")

    line(f"nginx `return 301`, {workers} workers", "nginx", "nginx")
    line("Caddy `redir`", "caddy", "nginx")
    line(
        f"Stellwerk data plane, {workers} workers, hits on",
        "data plane",
        "nginx",
        "≥ 0.6× nginx, p99 < 10 ms",
    )
    rps, caddy = median(results["data plane"], "rps"), median(results["caddy"], "rps")
    print(f"| data plane ÷ Caddy | | | | {rps / caddy:.2f} | ≥ 1.3 |")
    targets = {"verify": "≥ 0.7, p99 ≤ 25 ms", "activate": "≥ 0.5", "heartbeat": "≥ 0.5"}
    for endpoint in LICENSE_PATHS:
        line(f"bare SQLite reference, {endpoint}", f"bare {endpoint}")
        line(
            f"Stellwerk, {endpoint}", f"stellwerk {endpoint}", f"bare {endpoint}", targets[endpoint]
        )
    line("Stellwerk `GET /health`", "stellwerk /health", target="p99 ≤ 20 ms")
    line("Stellwerk mixed API reads", "stellwerk mixed reads")
    print()
    for endpoint in LICENSE_PATHS:
        pairs = zip(results[f"bare {endpoint}"], results[f"stellwerk {endpoint}"], strict=True)
        ratios = " ".join(f"{ours.rps / bare.rps:.2f}" for bare, ours in pairs)
        print(f"{endpoint} ratio per round: {ratios}")
    verdict = "ok" if stored >= served_redirects else "MISSING"
    print(
        f"hits: the data plane answered {served_redirects:,} requests (wrk's counts, warm-ups"
        f" and checks), {stored:,} hits stored ({verdict})"
    )


def conditions() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}, {os.cpu_count()} CPUs, load average {load}"


if __name__ == "__main__":
    sys.exit(main())
