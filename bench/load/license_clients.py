"""Many license clients at once against `stellwerk serve` on PostgreSQL.

Seeds a throwaway database (127.0.0.1:5432, user postgres) with the license benchmark's data
(licenses, two activations each, open sessions, the system API key), starts `stellwerk serve`
(one process: API, workers, jobs), and runs N clients as asyncio tasks in this process. Each
client keeps one HTTP/1.1 keep-alive connection (raw asyncio streams: a full HTTP client library
would make this process, not the server, the bottleneck) and, until the time is up, repeats:
`POST /api/license/verify`, `POST /api/license/session/heartbeat`, then waits `--think`
seconds. Client starts are spread over the first second.

Reports throughput, p50/p99 latency (send to full answer, measured by the client, so it
includes time the client waited for the CPU), errors (non-2xx answers, timeouts, broken
connections: must be 0) and the peak RSS of the server process from /proc.

    .venv/bin/python bench/load/license_clients.py            # 1,000 clients, 60 s
    .venv/bin/python bench/load/license_clients.py --short    # 100 clients, 5 s, small data
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadkit  # this folder's helper, found through the line above

REQUEST_TIMEOUT = 10.0


class Client:
    """One license client: a keep-alive connection sending prebuilt requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def send(self, request: bytes) -> int:
        """Send one request; the answer's status (the body is read and dropped)."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked answers are not expected here")
        if length:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status


def build_request(path: str, body: dict[str, object]) -> bytes:
    payload = orjson.dumps(body)
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {loadkit.API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def run_clients(
    port: int, keys: list[str], clients: int, seconds: float, think: float
) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    start = time.monotonic()
    deadline = start + seconds

    async def client(number: int) -> None:
        requests = (
            build_request(
                "/api/license/verify",
                {
                    "license_key": keys[number],
                    "hardware_hash": loadkit.hardware(number, 0),
                    "app_version": loadkit.LATEST,
                },
            ),
            build_request(
                "/api/license/session/heartbeat",
                {"session_token": loadkit.session_token(number), "license_key": keys[number]},
            ),
        )
        connection = Client(port)
        await asyncio.sleep(number / clients)  # spread the starts over the first second
        try:
            while time.monotonic() < deadline:
                for request in requests:
                    sent = time.perf_counter()
                    try:
                        async with asyncio.timeout(REQUEST_TIMEOUT):
                            status = await connection.send(request)
                    except (
                        OSError,
                        TimeoutError,
                        asyncio.IncompleteReadError,
                        asyncio.LimitOverrunError,
                        ValueError,
                    ) as error:
                        errors[type(error).__name__] += 1
                        await connection.close()
                        continue
                    latencies.append((time.perf_counter() - sent) * 1000)
                    if not 200 <= status < 300:
                        errors[f"HTTP {status}"] += 1
                if think:
                    await asyncio.sleep(think)
        finally:
            await connection.close()

    await asyncio.gather(*(client(number) for number in range(clients)))
    return latencies, errors


def measure(
    port: int, pid: int, keys: list[str], clients: int, seconds: float, think: float
) -> loadkit.LoadResult:
    with loadkit.PeakMemory(pid) as memory:
        started = time.monotonic()
        latencies, errors = _run_loop(run_clients(port, keys, clients, seconds, think))
        elapsed = time.monotonic() - started
    latencies.sort()
    if errors:
        print(f"errors by kind: {dict(errors)}", flush=True)
    return loadkit.LoadResult(
        requests=len(latencies),
        errors=sum(errors.values()),
        seconds=elapsed,
        p50_ms=loadkit.percentile(latencies, 0.50),
        p99_ms=loadkit.percentile(latencies, 0.99),
        peak_rss_mib=memory.peak_mib,
        high_water_mib=memory.high_water_mib,
    )


def _run_loop(coroutine: object) -> tuple[list[float], Counter[str]]:
    try:
        import uvloop  # the client's own overhead matters on a shared machine
    except ImportError:  # pragma: no cover - uvloop comes with the server's dependencies
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="100 clients for 5 s, small data")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument(
        "--think", type=float, default=1.0, help="pause between a client's rounds (s)"
    )
    options = parser.parse_args()
    clients = options.clients or (100 if options.short else 1000)
    seconds = options.seconds or (5.0 if options.short else 60.0)
    if not 1 <= clients <= 5000 or not 0 < seconds <= 600:
        parser.error("1-5000 clients for at most 600 s")
    licenses = max(2_000 if options.short else 20_000, clients)
    name = f"stellwerk_bench_load_{os.getpid()}"
    folder = Path(tempfile.mkdtemp(prefix="bench-load-license-"))
    print(f"conditions: {loadkit.conditions()}", flush=True)
    try:
        started = time.monotonic()
        keys = loadkit.create_database(name, licenses, clients)
        print(
            f"database {name}: {licenses:,} licenses, {clients:,} sessions"
            f" ({time.monotonic() - started:.1f} s)",
            flush=True,
        )
        env = loadkit.server_env(
            name,
            folder / "data",
            # Every client comes from 127.0.0.1: a per-address limit this traffic never reaches.
            STELLWERK_LICENSE_RATE_LIMIT="1000000/second",
        )
        with loadkit.stellwerk_serve(env, folder / "serve.log") as pid:
            port = int(env["STELLWERK_PORT"])
            result = measure(port, pid, keys, clients, seconds, options.think)
        print(
            f"{clients:,} clients, {seconds:g} s, think {options.think:g} s,"
            f" verify + heartbeat per round; load after: {loadkit.conditions()}"
        )
        print(result.line("license clients"), flush=True)
        return 0 if result.errors == 0 and result.requests > 0 else 1
    finally:
        loadkit.drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
