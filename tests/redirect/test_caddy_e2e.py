"""End to end on loopback: Caddy with the generated configuration gets a certificate from a
pebble ACME CA for an active redirect domain (validated through PowerDNS), and refuses an
unknown one, asking Stellwerk's TLS `ask` endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from stellwerk.redirect.caddy import caddyfile
from stellwerk.runtime import Runtime
from tests.factories import create_user
from tests.process import free_port
from tests.redirect.conftest import PowerDns, RunningPlane, wait_for
from tests.redirect.factories import create_domain, unique_domain

pytestmark = pytest.mark.slow


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest_asyncio.fixture
async def api_url(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback port, so Caddy can ask it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
def acme(tmp_path: Path, powerdns: PowerDns) -> Iterator[dict[str, object]]:
    if shutil.which("pebble") is None or shutil.which("caddy") is None:
        pytest.skip("caddy and pebble are not installed (scripts/install-system-deps)")
    directory = tmp_path / "acme"
    directory.mkdir()
    openssl = ["openssl"]

    def run(*args: str) -> None:
        subprocess.run(
            [*openssl, *args], check=True, capture_output=True, cwd=directory, timeout=60
        )

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test ca",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "listener.csr",
        "-subj",
        "/CN=localhost",
    )
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "listener.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    http_port, https_port = free_port(), free_port()
    acme_port, management_port = free_port(), free_port()
    (directory / "pebble.json").write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme_port}",
                    "managementListenAddress": f"127.0.0.1:{management_port}",
                    "certificate": str(directory / "cert.pem"),
                    "privateKey": str(directory / "key.pem"),
                    "httpPort": http_port,
                    "tlsPort": https_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    log = (directory / "pebble.log").open("wb")
    process = subprocess.Popen(
        ["pebble", "-config", str(directory / "pebble.json"), "-dnsserver", powerdns.resolver],
        env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                roots = httpx.get(
                    f"https://127.0.0.1:{management_port}/roots/0",
                    verify=str(directory / "ca.pem"),
                    timeout=2,
                )
                if roots.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((directory / "pebble.log").read_text()[-2000:])
            time.sleep(0.2)
        (directory / "issuer.pem").write_text(roots.text)
        yield {
            "dir": directory,
            "directory_url": f"https://127.0.0.1:{acme_port}/dir",
            "http_port": http_port,
            "https_port": https_port,
        }
    finally:
        _stop(process)
        log.close()


async def test_caddy_gets_a_certificate_only_for_active_domains(
    runtime: Runtime,
    powerdns: PowerDns,
    data_plane: RunningPlane,
    api_url: str,
    acme: dict[str, object],
    tmp_path: Path,
) -> None:
    directory = acme["dir"]
    assert isinstance(directory, Path)
    https_port = int(str(acme["https_port"]))
    active = unique_domain("tls")
    unknown = unique_domain("nocert")
    for name in (active, unknown):
        powerdns.create_zone(name)
        powerdns.set_record(name, "A", ["127.0.0.1"])
    user = await create_user(runtime)
    await create_domain(
        runtime, user, domain=active, target_url="https://target.example", status="active"
    )

    async def routed() -> bool:
        return active in data_plane.plane.table.routes

    await wait_for(routed, timeout=2)
    config = caddyfile(
        ask_url=f"{api_url}/api/redirect/tls-ask",
        upstream=data_plane.url.removeprefix("http://"),
        http_port=int(str(acme["http_port"])),
        https_port=https_port,
        bind="127.0.0.1",
        acme_ca=str(acme["directory_url"]),
        acme_ca_root=str(directory / "ca.pem"),
        storage_dir=str(tmp_path / "caddy-data"),
    )
    (tmp_path / "Caddyfile").write_text(config)
    log = (tmp_path / "caddy.log").open("wb")
    caddy = subprocess.Popen(  # noqa: ASYNC220 - a long-running server, not awaited
        ["caddy", "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        env={
            **os.environ,
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def curl(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
                "--max-time",
                "20",
                "--cacert",
                str(directory / "issuer.pem"),
                "--resolve",
                f"{name}:{https_port}:127.0.0.1",
                f"https://{name}:{https_port}/a/b?c=1",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    try:
        deadline = time.monotonic() + 40
        while True:
            result = await asyncio.to_thread(curl, active)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert result.returncode == 0, (result.stderr, (tmp_path / "caddy.log").read_text()[-3000:])
        assert result.stdout == "301 https://target.example/a/b?c=1"
        refused = await asyncio.to_thread(curl, unknown)
        assert refused.returncode != 0  # no certificate: the TLS handshake fails
        assert unknown not in (directory / "pebble.log").read_text()  # no ACME order for it
    finally:
        _stop(caddy)
        log.close()
