"""`stellwerk projects create` against a running `stellwerk serve` in sandbox mode: the progress
bar ends with the live URL, or with the failing step (exit 1); `retry` then succeeds."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import httpx
import pytest

from tests.process import ServeProcess, run_cli

pytestmark = pytest.mark.slow


def _free_base_port() -> int:
    """A base port whose +1..+5 (the sandboxes) are free, so CLI commands find them."""
    for _ in range(50):
        base = random.randint(20000, 60000)
        sockets = []
        try:
            for offset in range(1, 6):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError("no free ports")


def test_create_fail_retry_and_manage(serve_env: dict[str, str], tmp_path: Path) -> None:
    serve_env["STELLWERK_SANDBOX_PORT"] = str(_free_base_port())
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        status = httpx.get(f"{server.url}/status").json()
        assert {"inwx", "coolify"} <= set(status["sandboxes"])
        asked = ("projects", "create", "demo", "--domain", "demo-shop.de", "--register-domain")
        unanswered = run_cli(*asked, env=serve_env, stdin="")  # no answer, no --yes: no purchase
        assert unanswered.returncode == 1
        assert "Registering demo-shop.de costs 4.90 EUR for the first year." in unanswered.stderr
        assert "confirm with --yes" in unanswered.stderr
        declined = run_cli(*asked, env=serve_env, stdin="n\n")
        assert declined.returncode == 1
        assert "Buy demo-shop.de for 4.90 EUR? [y/N]" in declined.stdout
        unknown = run_cli(
            "projects",
            "create",
            "demo",
            "--domain",
            "demo-shop.de",
            "--plugins",
            "core,crn",
            env=serve_env,
        )
        assert unknown.returncode == 1
        assert "There is no plugin 'crn'; did you mean crm?" in unknown.stderr
        assert json.loads(run_cli("projects", "list", "--json", env=serve_env).stdout) == []
        created = run_cli(*asked, "--plugins", "core,crm", "--yes", env=serve_env)
        assert created.returncode == 0, created.stderr
        assert "demo is live: https://demo-shop.de" in created.stderr

        coolify_port = status["sandboxes"]["coolify"].split(":")[2].split("/")[0]
        httpx.post(f"http://127.0.0.1:{coolify_port}/__sandbox__/deployments", json={"fail": 1})
        failing = run_cli(
            "projects", "create", "second", "--domain", "second-shop.de", env=serve_env
        )
        assert failing.returncode == 1
        assert "failed at step deploy" in failing.stderr
        retried = run_cli("projects", "retry", "second", env=serve_env)
        assert retried.returncode == 0, retried.stderr
        assert "second is live: https://second-shop.de" in retried.stderr

        listed = json.loads(run_cli("projects", "list", "--json", env=serve_env).stdout)
        assert sorted((p["name"], p["state"]) for p in listed) == [
            ("demo", "active"),
            ("second", "active"),
        ]
        assert run_cli("projects", "suspend", "demo", env=serve_env).returncode == 0
        assert run_cli("projects", "resume", "demo", env=serve_env).returncode == 0
        archived = run_cli("projects", "archive", "second", "--json", env=serve_env)
        assert json.loads(archived.stdout)["state"] == "archived"
        domains = json.loads(run_cli("domains", "list", "--json", env=serve_env).stdout)
        # Only the domain bought on request: `second` was created without --register-domain.
        assert [d["name"] for d in domains] == ["demo-shop.de"]
        checked = json.loads(
            run_cli(
                "domains", "check", "demo-shop.de", "free-shop.de", "--json", env=serve_env
            ).stdout
        )
        assert [c["available"] for c in checked] == [False, True]
    finally:
        server.stop()


@pytest.mark.timeout(600)
def test_a_project_through_its_life(serve_env: dict[str, str], tmp_path: Path) -> None:
    serve_env["STELLWERK_SANDBOX_PORT"] = str(_free_base_port())
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        created = run_cli("projects", "create", "life", "--domain", "life-shop.de", env=serve_env)
        assert created.returncode == 0, created.stderr
        for command, state in (
            (["redeploy", "life", "--branch", "main"], "active"),
            (
                ["edit", "life", "--plugins", "core", "--env", "MODE=x", "--domain", "shop"],
                "active",
            ),
            (["stop", "life"], "stopped"),
            (["start", "life"], "active"),
            (["restart", "life"], "active"),
        ):
            done = run_cli("projects", *command, env=serve_env)
            assert done.returncode == 0, (command, done.stderr)
            assert f"life: {state}" in done.stderr, (command, done.stderr)
        refused = run_cli("projects", "edit", "life", "--env", "SECRET_KEY=x", env=serve_env)
        assert refused.returncode == 1
        assert "SECRET_KEY is set by Stellwerk" in refused.stderr
        deleted = run_cli("projects", "delete", "life", "--delete-zone", "--yes", env=serve_env)
        assert deleted.returncode == 0, deleted.stderr
        assert "life: deleted" in deleted.stderr
        listed = json.loads(run_cli("projects", "list", "--json", env=serve_env).stdout)
        assert listed == []
        # Created without --register-domain: nothing was bought, so nothing is listed.
        domains = json.loads(run_cli("domains", "list", "--json", env=serve_env).stdout)
        assert domains == []
    finally:
        server.stop()
