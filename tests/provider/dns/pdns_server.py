"""A real PowerDNS Authoritative server for tests: gsqlite3 backend, HTTP API, loopback only.

Started on free ports in a temporary directory and stopped by its pid. Tests skip with a reason
when `pdns_server` is not installed (`scripts/install-system-deps scripts/test-packages.txt`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PDNS_SERVER = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
API_KEY = "pdns-test-key"


def available() -> bool:
    return Path(PDNS_SERVER).exists() and SCHEMA.exists()


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PowerDns:
    api_url: str
    api_key: str
    dns_port: int
    pid: int


@contextlib.contextmanager
def running_powerdns(directory: Path) -> Iterator[PowerDns]:
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "pdns.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.executescript(SCHEMA.read_text())
    dns_port = _free_port(socket.SOCK_DGRAM)
    api_port = _free_port()
    log = (directory / "pdns.log").open("wb")
    process = subprocess.Popen(
        [
            PDNS_SERVER,
            f"--config-dir={directory}",
            "--launch=gsqlite3",
            f"--gsqlite3-database={database}",
            "--local-address=127.0.0.1",
            f"--local-port={dns_port}",
            f"--socket-dir={directory}",
            "--daemon=no",
            "--guardian=no",
            "--disable-syslog",
            "--security-poll-suffix=",
            "--api=yes",
            f"--api-key={API_KEY}",
            "--webserver=yes",
            "--webserver-address=127.0.0.1",
            f"--webserver-port={api_port}",
            "--webserver-allow-from=127.0.0.0/8",
            "--setuid=",
            "--setgid=",
            "--default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600",
            "--cache-ttl=0",
            "--negquery-cache-ttl=0",
            "--query-cache-ttl=0",
            "--zone-cache-refresh-interval=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((directory / "pdns.log").read_text()[-2000:])
            try:
                response = httpx.get(
                    f"{api_url}/api/v1/servers/localhost", headers={"X-API-Key": API_KEY}
                )
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("PowerDNS did not start in 20 s")
        yield PowerDns(api_url=api_url, api_key=API_KEY, dns_port=dns_port, pid=process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def resolve(pdns: PowerDns, name: str, rdtype: str) -> list[str]:
    """Ask the PowerDNS server directly (dnspython), as a resolver would."""
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = pdns.dns_port
    resolver.lifetime = 5
    answer = resolver.resolve(name, rdtype)
    return sorted(r.to_text() for r in answer)
