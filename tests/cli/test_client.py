"""The command line talks to the running server: `stellwerk login` / `logout`, one line and
exit 3 when the server is not there, JSON errors with `--json`, words in help."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.main import get_command
from typer.testing import CliRunner

from stellwerk.cli.client import Credentials, credentials, write_config
from stellwerk.cli.main import app as cli
from stellwerk.runtime import Runtime
from tests.clirun import Cli, cli_for, env_for
from tests.factories import DEFAULT_PASSWORD, create_admin
from tests.live import live_server
from tests.process import STELLWERK, free_port

runner = CliRunner()
OP = str(uuid.uuid4())
INSTANCE = "0" * 32

# Every command that needs the running server, with arguments that get it as far as calling it.
NEEDS_SERVER: dict[str, list[str]] = {
    "login": ["--username", "admin", "--password-stdin"],
    "ops list": [],
    "ops show": [OP],
    "ops cancel": [OP],
    "ops answer": [OP, "continue"],
    "ops probe": [],
    "projects create": ["demo", "--domain", "demo-shop.de", "--no-register-domain"],
    "projects list": [],
    "projects show": ["demo"],
    "projects retry": ["demo"],
    "projects suspend": ["1"],
    "projects resume": ["1"],
    "projects archive": ["1"],
    "projects redeploy": ["demo", "--branch", "main"],
    "projects restart": ["demo"],
    "projects stop": ["demo"],
    "projects start": ["demo"],
    "projects edit": ["demo", "--env", "A=1"],
    "projects delete": ["demo", "--yes", "--delete-zone"],
    "servers list": [],
    "domains check": ["demo-shop.de"],
    "domains list": [],
    "domains register": ["demo-shop.de"],
    "domains transfer": ["demo-shop.de", "--auth-code", "secret-code"],
    "domains show": ["demo-shop.de"],
    "servers import": ["--provider", OP],
    "secrets rotate": [],
    "providers check": [],
    "reconcile": [],
    "token create": ["--scope", "admin"],
    "token list": [],
    "token revoke": ["1"],
    "apikey rotate": [],
    "license customer-create": ["--name", "ACME"],
    "license customers": [],
    "license create": ["--customer-id", "1"],
    "license list": [],
    "license keygen": [],
    "license public-key": [],
    "redirect domains list": [],
    "redirect domains add": ["alt-firma.de", "--target", "https://firma.de"],
    "redirect domains verify": ["1"],
    "redirect domains delete": ["1"],
    "redirect domains update": ["1", "--target", "https://firma.de"],
    "redirect domains check": ["1"],
    "redirect domains qr": ["1", "--output", "qr.svg"],
    "redirect domains import": ["domains.csv"],
    "redirect domains export": [],
    "redirect groups list": [],
    "redirect groups add": ["Brands"],
    "redirect groups delete": ["1"],
    "redirect hits export": [],
    "servers create": ["--label", "web-1", "--type", "cx23"],
    "servers action": [OP, "reboot"],
    "modules list": [],
    "modules install": ["v2_dashboard"],
    "modules updates": [],
    "modules update": ["v2_dashboard"],
    "modules stop": ["v2_dashboard", INSTANCE],
    "modules start": ["v2_dashboard", INSTANCE],
    "modules restart": ["v2_dashboard", INSTANCE],
    "modules instances": [],
    "modules remove": ["v2_dashboard", INSTANCE],
    "modules pins": [],
    "modules logs": ["v2_dashboard", INSTANCE, "-n", "5"],
    "modules unpin": ["builtin", "v2_dashboard", "1.0.0"],
}
# Commands that work without the server: on the database, on files, or locally.
NO_SERVER = {
    "serve",
    "migrate",
    "admin create",
    "sandbox",
    "redirect serve",
    "redirect caddy-config",
    "logout",
    "import nexredirect",
    "import v2",
    "import stellwerk",
    "import skypanel",
    "import vyra",
    "export",
    "domains import",
    "projects import",
}


def _commands() -> set[str]:
    root = get_command(cli)
    names: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        sub = getattr(command, "commands", None)
        if sub is None:
            names.add(prefix.strip())
            return
        for name, child in sub.items():
            walk(child, f"{prefix} {name}")

    walk(root, "")
    return names


@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """No server listens at STELLWERK_URL; the CLI runs from an empty directory."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.chdir(tmp_path)
    for name, value in env_for(url, "nrx_" + "0" * 64, tmp_path / "cli.toml").items():
        monkeypatch.setenv(name, value or "")
    return url


def test_every_command_is_classified() -> None:
    unknown = _commands() - set(NEEDS_SERVER) - NO_SERVER
    assert not unknown, f"say whether these need the server: {sorted(unknown)}"


@pytest.mark.parametrize("command", sorted(NEEDS_SERVER))
def test_a_stopped_server_exits_3_at_once(command: str, stopped: str, tmp_path: Path) -> None:
    (tmp_path / "domains.csv").write_text("domain,target_url\n")
    started = time.monotonic()
    result = runner.invoke(cli, [*command.split(), *NEEDS_SERVER[command]], input="secret\n")
    assert time.monotonic() - started < 5
    assert result.exit_code == 3, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"error: Stellwerk is not reachable at {stopped}: start it with `stellwerk serve` "
        "or set STELLWERK_URL"
    )
    assert not (tmp_path / "var").exists()


@pytest.mark.slow
def test_the_command_as_a_process_exits_3_within_5_seconds(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLWERK_")}
    env.update({"STELLWERK_URL": url, "STELLWERK_CLI_CONFIG": str(tmp_path / "cli.toml")})
    started = time.monotonic()
    result = subprocess.run(
        [STELLWERK, "projects", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 5, result.stderr
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"error: Stellwerk is not reachable at {url}: start it with `stellwerk serve` "
        "or set STELLWERK_URL"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_stopped_server_with_json_is_json(stopped: str) -> None:
    result = runner.invoke(cli, ["ops", "list", "--json"])
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert body["error"] == "unreachable"
    assert stopped in body["detail"]


def test_help_shows_words_not_types() -> None:
    for command in sorted(_commands()):
        text = runner.invoke(cli, [*command.split(), "--help"], env={"COLUMNS": "200"}).output
        for python_type in ("<str>", "<int>", "<float>", "<bool>", "<uuid>", "<path>", "TEXT"):
            assert python_type not in text, (command, python_type)
    assert re.search(r"--status\s+STATUS", runner.invoke(cli, ["ops", "list", "--help"]).output)


def test_unknown_choices_suggest_the_closest(stopped: str) -> None:
    result = runner.invoke(cli, ["ops", "list", "--status", "runing"])
    assert result.exit_code == 1
    assert "did you mean running?" in result.output
    result = runner.invoke(
        cli, ["servers", "create", "--label", "a", "--provider-type", "hetzener"]
    )
    assert "did you mean hetzner?" in result.output


async def test_login_stores_a_token_and_logout_revokes_it(
    app: FastAPI, runtime: Runtime, tmp_path: Path
) -> None:
    admin = await create_admin(runtime)
    config = tmp_path / "home" / "cli.toml"
    async with live_server(app) as url:
        refused = await Cli(env_for(url, None, config))("ops", "list", "--json")
        assert refused.exit_code == 1
        assert "not logged in" in json.loads(refused.stdout)["detail"]

        # Without STELLWERK_URL, the URL of the last login.
        anonymous = Cli({**env_for(url, None, config), "STELLWERK_URL": None})
        wrong = await anonymous(
            "login", "--url", url, "-u", admin.username, "--password-stdin", input="nope\n"
        )
        assert wrong.exit_code == 1
        assert "username or password is wrong" in wrong.output
        assert not config.exists()

        logged_in = await anonymous(
            "login", "--url", url, "-u", admin.username, "--password-stdin",
            input=f"{DEFAULT_PASSWORD}\n",
        )  # fmt: skip
        assert logged_in.exit_code == 0, logged_in.output
        assert f"Logged in to {url} as {admin.username}" in logged_in.output
        assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
        assert "nrx_" in config.read_text()

        listed = await anonymous.json("ops", "list")
        assert listed == []
        token = config.read_text().split('token = "')[1].split('"')[0]

        logged_out = await anonymous("logout")
        assert logged_out.exit_code == 0, logged_out.output
        assert "token revoked" in logged_out.output
        assert not config.exists()
        again = await Cli(env_for(url, token, config))("ops", "list")
        assert again.exit_code == 1
        assert "stellwerk login" in again.output


async def test_api_errors_are_one_line_or_json(app: FastAPI, tmp_path: Path) -> None:
    async with cli_for(app, tmp_path) as run:
        missing = await run("ops", "show", OP)
        assert missing.exit_code == 1
        assert missing.output.startswith("error: ")
        assert len(missing.output.strip().splitlines()) == 1
        as_json = await run("ops", "show", OP, "--json")
        assert as_json.exit_code == 1
        assert json.loads(as_json.stdout)["status"] == 404


def test_choice_errors_with_json_are_json(stopped: str) -> None:
    result = runner.invoke(cli, ["projects", "list", "--state", "actve", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert "did you mean active" in body["detail"]


def test_the_stored_token_goes_only_to_its_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STELLWERK_CLI_CONFIG", str(tmp_path / "cli.toml"))
    monkeypatch.delenv("STELLWERK_TOKEN", raising=False)
    monkeypatch.delenv("STELLWERK_URL", raising=False)
    write_config("http://127.0.0.1:8001", "nrx_stored", 7)
    assert credentials() == Credentials("http://127.0.0.1:8001", "nrx_stored", 7)
    monkeypatch.setenv("STELLWERK_URL", "http://other.example:8000/")
    assert credentials() == Credentials("http://other.example:8000", None)
    monkeypatch.setenv("STELLWERK_TOKEN", "nrx_env")
    assert credentials() == Credentials("http://other.example:8000", "nrx_env")


def test_a_rate_limited_call_waits_and_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from stellwerk.cli import client

    answers = iter([429, 429, 200])
    waits: list[float] = []
    monkeypatch.setattr(client, "_wait", waits.append)

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(answers)
        if code == 429:
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "rate"})
        return httpx.Response(200, json={"ok": True})

    api = client.Api(Credentials(url="http://127.0.0.1:1", token="nrx_x"))
    api.http = httpx.Client(base_url="http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    assert api.get("/api/projects") == {"ok": True}
    assert waits == [2.0, 2.0]


def test_help_imports_nothing_heavy() -> None:
    """`stellwerk --help` starts at once: no framework, database, engine, HTTP client or SDK."""
    heavy = (
        "fastapi", "sqlalchemy", "dbos", "docker", "hcloud", "linode_api4", "httpx",
        "asyncio", "importlib.metadata",
    )  # fmt: skip
    script = (
        "import sys\n"
        "from stellwerk.cli.main import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"


def test_a_commands_summary_is_one_line() -> None:
    """Docstrings wrap in the source; in a group's help the summary runs on (a wide terminal
    shows each on one line)."""
    text = runner.invoke(cli, ["--help"], env={"COLUMNS": "400"}).output
    (login,) = [line for line in text.splitlines() if line.startswith("│ login")]
    assert "readable by you alone" in login
    text = runner.invoke(cli, ["import", "--help"], env={"COLUMNS": "400"}).output
    (vyra,) = [line for line in text.splitlines() if line.startswith("│ vyra")]
    assert vyra.rstrip(" │").endswith("needs no running server.")
