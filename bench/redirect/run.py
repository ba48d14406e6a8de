"""Redirect data plane vs nginx `return 301` vs Caddy `redir`, measured with wrk in one run.

All traffic goes to 127.0.0.1 on ephemeral ports; every server is stopped by its pid.

    .venv/bin/python bench/redirect/run.py            # 10 s per server, 3 rounds
    .venv/bin/python bench/redirect/run.py --short    # 2 s, 1 round (a smoke check)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

HOST = "bench-old.example"
TARGET = "https://bench-new.example"
PATH = "/some/path?utm=x"
STELLWERK = str(Path(sys.executable).with_name("stellwerk"))
SERVERS = ("nginx", "caddy", "bare", "bare-http1", "stellwerk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"http://127.0.0.1:{port}{PATH}", headers={"Host": HOST})
            if response.status_code == 301 and response.headers["location"].startswith(TARGET):
                return
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not answer 301")


@contextlib.contextmanager
def running(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(port)
        yield process.pid
    finally:
        process.send_signal(signal.SIGINT if "stellwerk" in command[0] else signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def nginx(work: Path, port: int, workers: int) -> list[str]:
    (work / "nginx.conf").write_text(
        f"worker_processes {workers}; daemon off; pid {work}/nginx.pid; error_log stderr warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work};\n"
        f"  fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};\n"
        f"  server {{ listen 127.0.0.1:{port} default_server;"
        f" return 301 {TARGET}$request_uri; }} }}\n"
    )
    return ["nginx", "-p", str(work), "-c", str(work / "nginx.conf")]


def bare_granian(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "rsgi",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
        "--task-impl",
        "rust",
        "bare_app:app",
    ]


def caddy(work: Path, port: int) -> list[str]:
    (work / "Caddyfile").write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f":{port} {{\n\tbind 127.0.0.1\n\tredir {TARGET}{{uri}} 301\n}}\n"
    )
    return ["caddy", "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"]


def wrk(port: int, seconds: int) -> tuple[float, float, int]:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c64",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "-H",
            f"Host: {HOST}",
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_match = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99_match is not None, output
    value, unit = float(p99_match.group(1)), p99_match.group(2)
    p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    if "Non-2xx or 3xx" in output or "Socket errors" in output:
        print(output, file=sys.stderr)
    return rps, p99_ms, total


def stellwerk_env(work: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
    env.update(
        {
            "STELLWERK_DATA_DIR": str(work / "stellwerk"),
            "STELLWERK_SECRET_KEY": "bench-secret-key-not-for-production",
            "STELLWERK_REDIRECT_PORT": str(port),
            "STELLWERK_LOG_LEVEL": "WARNING",
        }
    )
    return env


def prepare_stellwerk(env: dict[str, str]) -> None:
    subprocess.run(
        [STELLWERK, "admin", "create", "-u", "bench", "--password-stdin"],
        input="bench-password-1234\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    # The data plane runs alone here (no API to ask): the domain goes in as the API would add it.
    asyncio.run(_add_domain(env))


async def _add_domain(env: dict[str, str]) -> None:
    from sqlalchemy import select

    from stellwerk.audit.actor import Actor
    from stellwerk.config import Settings
    from stellwerk.models import User
    from stellwerk.redirect import service
    from stellwerk.runtime import Runtime

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(env["STELLWERK_DATA_DIR"]),
        secret_key=env["STELLWERK_SECRET_KEY"],
    )
    runtime = Runtime.from_settings(settings)
    try:
        async with runtime.database.session() as session:
            owner = (
                await session.execute(select(User).where(User.username == "bench"))
            ).scalar_one()
            await service.domain.create(
                session,
                Actor.cli(owner.id, owner.username),
                owner,
                domain=HOST,
                target_url=TARGET,
                redirect_code=301,
                preserve_path=True,
                include_www=True,
                group_id=None,
            )
    finally:
        await runtime.close()


def stored_hits(env: dict[str, str]) -> int:
    database = Path(env["STELLWERK_DATA_DIR"]) / "stellwerk.sqlite"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return int(connection.execute("SELECT count(*) FROM redirect_hits").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="2 s per server, one round")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes of nginx, the bare app and the data plane (default: one per CPU)",
    )
    args = parser.parse_args()
    seconds, rounds = (2, 1) if args.short else (args.seconds, args.rounds)
    results: dict[str, list[tuple[float, float, int]]] = {}
    integrity: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as scratch:
        work = Path(scratch)
        for round_number in range(rounds):
            for name in SERVERS:
                port = free_port()
                server_dir = work / f"{name}-{round_number}"
                server_dir.mkdir()
                if name == "nginx":
                    command, env = nginx(server_dir, port, args.workers), dict(os.environ)
                elif name == "caddy":
                    command = caddy(server_dir, port)
                    env = {
                        **os.environ,
                        "HOME": str(server_dir),
                        "XDG_DATA_HOME": str(server_dir),
                        "XDG_CONFIG_HOME": str(server_dir),
                    }
                elif name == "bare":
                    command = bare_granian(port, args.workers)
                    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
                elif name == "bare-http1":
                    script = str(Path(__file__).with_name("bare_http1.py"))
                    command = [sys.executable, script, str(port), str(args.workers)]
                    env = dict(os.environ)
                else:
                    env = stellwerk_env(server_dir, port)
                    prepare_stellwerk(env)
                    command = [STELLWERK, "redirect", "serve", "--workers", str(args.workers)]
                with running(command, port, env, server_dir / "server.log"):
                    time.sleep(1.0)  # warm-up, not counted
                    before = stored_hits(env) if name == "stellwerk" else 0
                    measured = wrk(port, seconds)
                results.setdefault(name, []).append(measured)
                if name == "stellwerk":
                    # After the graceful stop every served request must be a stored hit.
                    integrity.append((measured[2], stored_hits(env) - before))
    print_table(results, integrity, seconds, args.workers)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def print_table(
    results: dict[str, list[tuple[float, float, int]]],
    integrity: list[tuple[int, int]],
    seconds: int,
    workers: int,
) -> None:
    labels = {
        "nginx": f"nginx `return 301`, {workers} worker(s)",
        "caddy": "Caddy `redir` (all CPUs)",
        "bare": f"bare granian RSGI app, {workers} worker(s), no hits (a general Python server)",
        "bare-http1": f"bare app on the data plane's HTTP server, {workers} worker(s), no hits",
        "stellwerk": f"Stellwerk data plane, {workers} worker(s), hit logging on",
    }
    nginx_rps = median([r[0] for r in results["nginx"]])
    print(f"wrk -t2 -c64 -d{seconds}s, median of {len(results['nginx'])} round(s)\n")
    print("| server | req/s | p99 ms | vs nginx |")
    print("|---|---|---|---|")
    for name in SERVERS:
        rps = median([r[0] for r in results[name]])
        p99 = median([r[1] for r in results[name]])
        print(f"| {labels[name]} | {rps:,.0f} | {p99:.2f} | {rps / nginx_rps:.2f} |")
    print()
    for served, stored in integrity:
        print(
            f"hits: wrk counted {served} responses, {stored} hits stored "
            f"({'ok' if stored >= served else 'MISSING'})"
        )


if __name__ == "__main__":
    main()
