"""A mixed API read load against `stellwerk serve` on PostgreSQL, measured with wrk.

Seeds a throwaway database (127.0.0.1:5432, user postgres) with the license benchmark's data
(customers, licenses, activations), starts `stellwerk serve`, adds redirect domains through the
API, creates an admin API token with the CLI, checks that every path answers 200, times each
path alone (one request at a time, the median of 10), then runs
`wrk -t2 -cN -dS --timeout 5s --latency` with `paths.lua`, which sends the paths below in turn
(listings with their counts, searches, the caller): servers, redirect domains, licenses (five
pages), projects, operations, customers, the global search and `/api/auth/me`.

Reports throughput, p50/p99 latency (wrk's), errors (non-2xx answers and socket errors: must
be 0) and the peak RSS of the server process from /proc.

    .venv/bin/python bench/load/api_reads.py            # 30 s, 64 connections
    .venv/bin/python bench/load/api_reads.py --short    # 2 s, 16 connections, small data
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadkit  # this folder's helper, found through the line above

HERE = Path(__file__).resolve().parent
PATHS = [
    "/api/vps",
    "/api/v1/domains?per_page=50",
    *(f"/api/licenses?per_page=50&page={page}" for page in range(1, 6)),
    "/api/projects",
    "/api/operations",
    "/api/customers?q=customer%2012&per_page=20",
    "/api/global-search?q=Customer%2042&limit=20",
    "/api/auth/me",
]


def seed_domains(base_url: str, headers: dict[str, str], count: int) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for number in range(count):
            response = client.post(
                "/api/v1/domains",
                json={
                    "domain": f"bench-{number}.example",
                    "target_url": f"https://www.example.com/{number}",
                },
            )
            response.raise_for_status()


def check_paths(base_url: str, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for path in PATHS:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")


def time_paths(base_url: str, headers: dict[str, str], repeats: int) -> dict[str, float]:
    """Each path alone, one request at a time: the median ms (where the time goes)."""
    medians = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for path in PATHS:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            medians[path] = statistics.median(times)
    return medians


def run_wrk(
    port: int, token: str, paths_file: Path, connections: int, seconds: int
) -> tuple[int, float, float, float, int]:
    """wrk's requests, seconds, p50 and p99 (ms), and errors."""
    env = {**os.environ, "BENCH_PATHS": str(paths_file), "BENCH_TOKEN": token}
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(HERE / "paths.lua"), f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    output = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[found[3]]
    requests, elapsed = int(found[1]), float(found[2]) * scale
    p50 = loadkit.seed._ms(re.search(r"\s50%\s+(\S+)", output)[1])  # type: ignore[index]
    p99 = loadkit.seed._ms(re.search(r"\s99%\s+(\S+)", output)[1])  # type: ignore[index]
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output)
    print(f"wrk: max latency {latency[1] if latency else '?'}", flush=True)
    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+)",
        r"Socket errors: .*?read (\d+)",
        r"Socket errors: .*?write (\d+)",
        r"Socket errors: .*?timeout (\d+)",
    ):
        match = re.search(pattern, output)
        errors += int(match[1]) if match else 0
    if errors:
        print(
            "wrk reported:",
            *(
                line.strip()
                for line in output.splitlines()
                if "errors" in line or "Non-2xx" in line
            ),
            sep="\n  ",
            flush=True,
        )
    return requests, elapsed, p50, p99, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="2 s, 16 connections, small data")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--connections", type=int, default=None)
    options = parser.parse_args()
    seconds = options.seconds or (2 if options.short else 30)
    connections = options.connections or (16 if options.short else 64)
    if not 1 <= connections <= 1000 or not 1 <= seconds <= 600:
        parser.error("1-1000 connections for 1-600 s")
    licenses, domains = (2_000, 20) if options.short else (20_000, 200)
    name = f"stellwerk_bench_reads_{os.getpid()}"
    folder = Path(tempfile.mkdtemp(prefix="bench-load-reads-"))
    print(f"conditions: {loadkit.conditions()}", flush=True)
    try:
        started = time.monotonic()
        loadkit.create_database(name, licenses, 0)
        env = loadkit.server_env(
            name,
            folder / "data",
            # wrk sends everything with one token: a limit this traffic never reaches.
            STELLWERK_TOKEN_RATE_LIMIT="1000000/second",
        )
        with loadkit.stellwerk_serve(env, folder / "serve.log") as pid:
            port = int(env["STELLWERK_PORT"])
            base_url = f"http://127.0.0.1:{port}"
            token = loadkit.admin_token(
                base_url, env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"]
            )
            headers = {"Authorization": f"Bearer {token}"}
            seed_domains(base_url, headers, domains)
            check_paths(base_url, headers)
            print(
                f"database {name}: {licenses:,} licenses, {domains} redirect domains"
                f" ({time.monotonic() - started:.1f} s)",
                flush=True,
            )
            for path, median in time_paths(base_url, headers, 3 if options.short else 10).items():
                print(f"  alone: {path:48} median {median:7.1f} ms", flush=True)
            paths_file = folder / "paths.txt"
            paths_file.write_text("\n".join(PATHS) + "\n")
            run_wrk(port, token, paths_file, connections, 1)  # warm-up, not counted
            with loadkit.PeakMemory(pid) as memory:
                requests, elapsed, p50, p99, errors = run_wrk(
                    port, token, paths_file, connections, seconds
                )
        result = loadkit.LoadResult(
            requests, errors, elapsed, p50, p99, memory.peak_mib, memory.high_water_mib
        )
        print(
            f"wrk -t2 -c{connections} -d{seconds}s, {len(PATHS)} paths in turn;"
            f" load after: {loadkit.conditions()}"
        )
        print(result.line("api reads"), flush=True)
        return 0 if result.errors == 0 and result.requests > 0 else 1
    finally:
        loadkit.drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
