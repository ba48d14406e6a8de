"""The production files in deploy/: the compose file parses and runs real commands, the systemd
units start commands the CLI has, every variable they set is a setting, the Caddyfile adapts."""

from __future__ import annotations

import configparser
import functools
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from stellwerk.cli.main import app
from stellwerk.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
INSTALLED = "/opt/stellwerk/venv/bin/stellwerk"


@functools.cache
def _accepts(args: tuple[str, ...]) -> Result:
    """`stellwerk <args> --help` (in this process): exits 0 only if the command and every
    option given exist."""
    return CliRunner().invoke(app, [*args, "--help"])


def _assert_cli(args: list[str]) -> None:
    result = _accepts(tuple(args))
    assert result.exit_code == 0, (args, result.output)


def _is_setting(name: str) -> bool:
    fields = Settings.model_fields
    if name.startswith("STELLWERK_") and name.removeprefix("STELLWERK_").lower() in fields:
        return True
    aliases = {
        choice
        for field in fields.values()
        if field.validation_alias is not None
        for choice in getattr(field.validation_alias, "choices", [])
    }
    return name in aliases


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_runs_every_role_on_shared_state() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert {"postgres", "redis", "caddy", "migrate", "redirect"} <= set(services)
    stellwerk = {name: s for name, s in services.items() if s.get("image") == "stellwerk:latest"}
    roles: dict[str, list[str]] = {}
    executor_ids = []
    for name, service in stellwerk.items():
        command = service["command"]
        _assert_cli(command)
        if command[0] == "serve":
            role = command[command.index("--role") + 1]
            roles.setdefault(role, []).append(name)
            if role == "worker":
                executor_ids.append(command[command.index("--executor-id") + 1])
        # The same database, Redis, secret and data directory everywhere.
        environment = service["environment"]
        for key in ("STELLWERK_DATABASE_URL", "STELLWERK_SECRET_KEY", "STELLWERK_REDIS_URL"):
            assert key in environment, (name, key)
        assert "stellwerk-data:/var/lib/stellwerk" in service["volumes"]
        assert all(_is_setting(key) for key in environment), environment
    assert len(roles["api"]) == 2
    assert len(roles["worker"]) == 2
    assert len(set(executor_ids)) == len(executor_ids)  # one id per worker, never shared
    assert (DEPLOY / "Dockerfile").is_file()


def _units() -> dict[str, configparser.RawConfigParser]:
    units = {}
    for path in sorted((DEPLOY / "systemd").iterdir()):
        parser = configparser.RawConfigParser(strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text())
        units[path.name] = parser
    return units


def test_systemd_units_start_existing_commands() -> None:
    units = _units()
    assert {
        "stellwerk-api@.service",
        "stellwerk-worker@.service",
        "stellwerk-redirect.service",
        "stellwerk-migrate.service",
        "stellwerk.target",
    } <= set(units)
    for name, unit in units.items():
        if not name.endswith(".service"):
            continue
        service = unit["Service"]
        assert service["EnvironmentFile"] == "/etc/stellwerk/stellwerk.env", name
        command = shlex.split(service["ExecStart"])
        assert command[0] == INSTALLED, name
        # Instance (%i) and host (%H) specifiers as systemd would fill them in.
        args = [re.sub("%H", "host", re.sub("%i", "8001", arg)) for arg in command[1:]]
        _assert_cli(args)
        assert unit["Install"]["WantedBy"] == "stellwerk.target"
    worker = shlex.split(units["stellwerk-worker@.service"]["Service"]["ExecStart"])
    assert "%i" in worker[worker.index("--executor-id") + 1]  # distinct per instance


def test_environment_example_names_only_settings() -> None:
    names = [
        line.lstrip("# ").split("=", 1)[0]
        for line in (DEPLOY / "stellwerk.env.example").read_text().splitlines()
        if re.match(r"^#? ?[A-Z][A-Z0-9_]*=", line)
    ]
    assert "STELLWERK_SECRET_KEY" in names
    assert "STELLWERK_DATABASE_URL" in names
    unknown = [name for name in names if not _is_setting(name)]
    assert unknown == []


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddyfile_adapts_for_systemd_and_compose() -> None:
    for env in ({}, {"STELLWERK_API_UPSTREAMS": "api-1:8000 api-2:8000"}):
        finished = subprocess.run(
            ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env},
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        assert "/api/redirect/tls-ask" in finished.stdout
        assert "on_demand" in finished.stdout


def test_split_roles_need_postgresql(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--role", "worker", "--data-dir", str(tmp_path)],
        env={"STELLWERK_DATABASE_URL": "", "STELLWERK_ROLE": ""},
    )
    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.output
    unknown = CliRunner().invoke(app, ["serve", "--role", "everything"])
    assert unknown.exit_code == 1
    assert "--role is one of all, api, worker" in unknown.output
