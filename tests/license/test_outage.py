"""The database goes away for 10 s under license clients: every verify gets a clear 503 in the
license error format, quickly; afterwards verification works again without a restart."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_HOST, PG_PORT, _drop_database, _recreate_database
from tests.process import ServeProcess, base_env, run_cli
from tests.redirect.conftest import CuttableProxy

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10.0
HARDWARE = "outage-hardware"


class ThreadedProxy:
    """A `CuttableProxy` on an event loop of its own, for tests that drive processes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.proxy = CuttableProxy(PG_HOST, PG_PORT)

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=30)

    def start(self) -> int:
        self.thread.start()
        self._run(self.proxy.start())
        return self.proxy.port

    def cut(self) -> None:
        self.loop.call_soon_threadsafe(self.proxy.cut)

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(self.proxy.restore)

    def stop(self) -> None:
        self._run(self.proxy.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def proxied_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], ThreadedProxy]]:
    name = f"stellwerk_outage_{uuid.uuid4().hex[:8]}"
    asyncio.run(_recreate_database(name))
    proxy = ThreadedProxy()
    port = proxy.start()
    env = base_env(tmp_path / "var", f"postgresql://postgres@127.0.0.1:{port}/{name}")
    try:
        yield env, proxy
    finally:
        proxy.stop()
        asyncio.run(_drop_database(name))


def cli_json(env: dict[str, str], *args: str) -> Any:
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def verify(server: ServeProcess, api_key: str, license_key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/license/verify",
        json={"license_key": license_key, "hardware_hash": HARDWARE},
        headers={"X-API-Key": api_key},
        timeout=15,
    )


def test_a_database_outage_gives_clear_503s_then_recovers(
    proxied_env: tuple[dict[str, str], ThreadedProxy], tmp_path: Path
) -> None:
    env, proxy = proxied_env
    server = ServeProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        api_key = cli_json(env, "apikey", "rotate")["api_key"]
        customer = cli_json(env, "license", "customer-create", "--name", "Outage GmbH")
        license_key = cli_json(
            env, "license", "create", "--customer-id", str(customer["id"]), "--max-activations", "2"
        )["license_key"]
        activated = httpx.post(
            f"{server.url}/api/license/activate",
            json={"license_key": license_key, "hardware_hash": HARDWARE},
            headers={"X-API-Key": api_key},
            timeout=15,
        )
        assert activated.status_code == 200, activated.text
        before = verify(server, api_key, license_key)
        assert before.status_code == 200, before.text
        assert before.json()["valid"] is True

        proxy.cut()
        answers: list[tuple[int, dict[str, Any], float]] = []
        outage_end = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < outage_end:
            started = time.monotonic()
            response = verify(server, api_key, license_key)
            answers.append((response.status_code, response.json(), time.monotonic() - started))
            time.sleep(0.25)
        proxy.restore()

        assert len(answers) >= 5
        for status, body, seconds in answers:
            # Every verification reads the license: without the database it is a 503.
            assert status == 503, (status, body)
            assert set(body) == {"error", "code", "status"}, body
            assert body["status"] == 503
            assert seconds < 10, "a client must not hang for the whole outage"

        deadline = time.monotonic() + 20
        recovered = verify(server, api_key, license_key)
        while recovered.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            recovered = verify(server, api_key, license_key)
        assert recovered.status_code == 200, recovered.text
        assert recovered.json()["valid"] is True
        assert server.process is not None
        assert server.process.poll() is None  # it stayed up
    finally:
        server.stop()
