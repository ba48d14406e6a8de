"""A new redirect is served by every data plane worker of `stellwerk serve` as soon as the call
that created it has answered, and a deleted one is gone as soon as its call answered."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.process import ServeProcess, base_env, run_cli

pytestmark = pytest.mark.slow


def test_a_created_redirect_answers_at_once(tmp_path: Path) -> None:
    env = base_env(tmp_path / "var")
    env["STELLWERK_REDIRECT_WORKERS"] = "2"
    env["STELLWERK_REDIRECT_REFRESH_SECONDS"] = "30"  # no help from the periodic reload
    server = ServeProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        created = run_cli(
            "token", "create", "-s", "read:domains", "-s", "write:domains", "--json", env=env
        )
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {json.loads(created.stdout)['token']}"}
        plane = f"http://127.0.0.1:{env['STELLWERK_REDIRECT_PORT']}/a?b=1"
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as api:
            for number in range(4):
                host = f"shop-{number}.alt.de"
                made = api.post(
                    "/api/v1/domains",
                    json={"domain": host, "target_url": "https://shop.firma.de"},
                )
                assert made.status_code == 201, made.text
                # Each request may reach either worker: both serve it already.
                for _ in range(4):
                    answer = httpx.get(plane, headers={"Host": host}, timeout=5)
                    assert answer.status_code == 301, (host, answer.status_code)
                    assert answer.headers["location"] == "https://shop.firma.de/a?b=1"
            gone = api.delete(f"/api/v1/domains/{made.json()['domain']['id']}")
            assert gone.status_code in (200, 204), gone.text
            for _ in range(4):
                assert httpx.get(plane, headers={"Host": host}, timeout=5).status_code == 404
    finally:
        server.stop()
