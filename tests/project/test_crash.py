"""SIGKILL `stellwerk serve` at a step of the provisioning flow and start it again: the project
completes with one domain, one record set, one Coolify project and one application, and
`stellwerk reconcile` finds nothing amiss."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.process import ServeProcess, free_sandbox_base_port, run_cli

pytestmark = pytest.mark.slow


def _show(env: dict[str, str]) -> dict[str, object]:
    result = run_cli("projects", "show", "demo", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


MARKERS = {
    "dns": "Setting DNS records",
    "deploy": "Deploying",
}


@pytest.mark.parametrize("kill_at", ["dns", "deploy"])
def test_sigkill_at_a_step_then_restart_completes_once(
    serve_env: dict[str, str], tmp_path: Path, kill_at: str
) -> None:
    # Fixed sandbox ports: `stellwerk reconcile` below asks the same sandboxes.
    serve_env["STELLWERK_SANDBOX_PORT"] = str(free_sandbox_base_port())
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        created = run_cli(
            "projects",
            "create",
            "demo",
            "--domain",
            "demo-shop.de",
            "--plugins",
            "core,crm",
            "--register-domain",
            "--yes",
            "--no-follow",
            "--json",
            env=serve_env,
        )
        assert created.returncode == 0, created.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            project = _show(serve_env)
            message = str(project["operation"]["message"])  # type: ignore[index]
            if project["state"] != "provisioning" or MARKERS[kill_at] in message:
                break
            time.sleep(0.1)
        server.kill()
        server.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            project = _show(serve_env)
            if project["state"] != "provisioning":
                break
            time.sleep(0.5)
        assert project["state"] == "active", (project["error"], server.log()[-3000:])
        report = run_cli("reconcile", "--json", env=serve_env)
        assert report.returncode == 0, (report.stdout, report.stderr)
        assert json.loads(report.stdout)["checked"]["coolify"] == {"coolify": 2}
    finally:
        server.stop()
    sandbox_dir = Path(serve_env["STELLWERK_DATA_DIR"]) / "sandbox"
    coolify = json.loads((sandbox_dir / "coolify.json").read_text())
    inwx = json.loads((sandbox_dir / "inwx.json").read_text())
    assert len(coolify["projects"]) == 1
    assert len(coolify["applications"]) == 1
    assert list(inwx["domains"]) == ["demo-shop.de"]
    a_records = sorted(
        r["name"] for r in inwx["zones"]["demo-shop.de"]["records"] if r["type"] == "A"
    )
    assert a_records == ["demo-shop.de", "www.demo-shop.de"]
    (app,) = coolify["applications"].values()
    assert len(coolify["envs"][app["uuid"]]) == 5


@pytest.mark.parametrize("action", ["redeploy", "delete"])
@pytest.mark.timeout(600)
def test_sigkill_during_a_life_action_then_restart_finishes_it(
    serve_env: dict[str, str], tmp_path: Path, action: str
) -> None:
    """A redeploy killed while it deploys ends with one more deployment and the project active; a
    delete killed while it removes leaves nothing at Coolify or in the zone."""
    serve_env["STELLWERK_SANDBOX_PORT"] = str(free_sandbox_base_port())
    server = ServeProcess(serve_env, tmp_path / "serve.log")
    server.start()
    try:
        created = run_cli(
            "projects",
            "create",
            "demo",
            "--domain",
            "demo-shop.de",
            "--register-domain",
            "--yes",
            env=serve_env,
        )
        assert created.returncode == 0, created.stderr
        args = ["--delete-zone", "--yes"] if action == "delete" else []
        started = run_cli("projects", action, "demo", *args, "--no-follow", "--json", env=serve_env)
        assert started.returncode == 0, started.stderr
        operation_id = json.loads(started.stdout)["operation_id"]
        marker = "Removing" if action == "delete" else "Deploying"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = run_cli("ops", "show", operation_id, "--json", env=serve_env)
            operation = json.loads(shown.stdout)
            if marker in str(operation["message"]) or operation["status"] != "queued":
                break
            time.sleep(0.1)
        server.kill()
        server.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            shown = run_cli("ops", "show", operation_id, "--json", env=serve_env)
            operation = json.loads(shown.stdout)
            if operation["status"] in ("completed", "failed"):
                break
            time.sleep(0.5)
        assert operation["status"] == "completed", (operation, server.log()[-3000:])
    finally:
        server.stop()
    sandbox_dir = Path(serve_env["STELLWERK_DATA_DIR"]) / "sandbox"
    coolify = json.loads((sandbox_dir / "coolify.json").read_text())
    inwx = json.loads((sandbox_dir / "inwx.json").read_text())
    assert list(inwx["domains"]) == ["demo-shop.de"]
    if action == "delete":
        assert (coolify["projects"], coolify["applications"]) == ({}, {})
        assert "demo-shop.de" not in inwx["zones"]
    else:
        assert len(coolify["applications"]) == 1
        (app,) = coolify["applications"].values()
        assert app["status"] == "running:healthy"
