"""Redirect fixtures: the data plane on a loopback port, and a real PowerDNS to verify against."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.redirect.dataplane import DataPlane, serve_data_plane
from tests.process import free_port


@dataclass
class RunningPlane:
    plane: DataPlane
    url: str
    settings: Settings


PlaneFactory = Callable[..., AbstractAsyncContextManager[RunningPlane]]


@pytest.fixture
def plane_factory(settings: Settings, tmp_path: Path, app: object) -> PlaneFactory:
    """Start a data plane on an ephemeral loopback port against the test database (`app`
    first, so the schema is migrated), with settings overrides. Leaving it flushes every hit."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningPlane]:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "plane",
            "database_url": settings.resolved_database_url,  # not the plane's own data dir
            "redirect_refresh_seconds": 0.2,
            **overrides,
        }
        database_url = values.pop("plane_database_url", None)
        plane_settings = settings.model_copy(update=values)
        database = Database(database_url) if database_url else None
        plane = DataPlane.from_settings(plane_settings, database=database)
        async with serve_data_plane(plane, "127.0.0.1", 0) as url:
            yield RunningPlane(plane, url, plane_settings)

    return start


@pytest_asyncio.fixture
async def data_plane(plane_factory: PlaneFactory) -> AsyncIterator[RunningPlane]:
    async with plane_factory() as running:
        yield running


async def wait_for(condition: object, *, timeout: float = 3.0, interval: float = 0.05) -> None:
    """Poll an async callable until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


# -- PowerDNS ---------------------------------------------------------------------------------

PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
PDNS_API_KEY = "stellwerk-test-key"


@dataclass
class PowerDns:
    dns_port: int
    api: str

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": PDNS_API_KEY}

    def create_zone(self, zone: str) -> None:
        response = httpx.post(
            f"{self.api}/zones",
            headers=self._headers(),
            json={"name": f"{zone}.", "kind": "Native", "nameservers": [f"ns1.{zone}."]},
            timeout=10,
        )
        assert response.status_code in (201, 409), response.text

    def set_record(self, name: str, rtype: str, values: list[str]) -> None:
        zone = name.split(".", 1)[1] if name.startswith("www.") else name
        changetype = "REPLACE" if values else "DELETE"
        rrset: dict[str, object] = {"name": f"{name}.", "type": rtype, "changetype": changetype}
        if values:
            rrset["ttl"] = 1
            rrset["records"] = [{"content": v, "disabled": False} for v in values]
        response = httpx.patch(
            f"{self.api}/zones/{zone}.",
            headers=self._headers(),
            json={"rrsets": [rrset]},
            timeout=10,
        )
        assert response.status_code == 204, response.text

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"


@pytest.fixture(scope="session")
def powerdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerDns]:
    if shutil.which("pdns_server") is None and not Path("/usr/sbin/pdns_server").exists():
        pytest.skip("PowerDNS is not installed (scripts/install-system-deps)")
    directory = tmp_path_factory.mktemp("pdns")
    database = directory / "pdns.sqlite3"
    subprocess.run(
        ["sqlite3", str(database)], input=PDNS_SCHEMA.read_bytes(), check=True, timeout=30
    )
    dns_port, api_port = free_port(), free_port()
    log = (directory / "pdns.log").open("wb")
    process = subprocess.Popen(
        [
            "/usr/sbin/pdns_server",
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
            f"--api-key={PDNS_API_KEY}",
            "--webserver=yes",
            "--webserver-address=127.0.0.1",
            f"--webserver-port={api_port}",
            "--webserver-allow-from=127.0.0.0/8",
            "--setuid=",
            "--setgid=",
            "--cache-ttl=0",
            "--negquery-cache-ttl=0",
            "--query-cache-ttl=0",
            "--default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{api_port}/api/v1/servers/localhost"
    deadline = time.monotonic() + 20
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(api, headers={"X-API-Key": PDNS_API_KEY}, timeout=1).status_code
                    == 200
                ):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((directory / "pdns.log").read_text()[-2000:])
            time.sleep(0.1)
        yield PowerDns(dns_port, api)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


# -- a database outage: a TCP proxy in front of PostgreSQL that can be cut -------------------


class CuttableProxy:
    """Forwards 127.0.0.1:port to the real server until `cut()`: then every connection is
    dropped and new ones are closed at once, as when the database host goes away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while not self.cut_off:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.cut_off:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers.update({client_w, server_w})
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        self._writers.difference_update({client_w, server_w})

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.close()

    def restore(self) -> None:
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
