"""Settings that would run an installation unsafely are refused at start, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from stellwerk.cli.main import app
from stellwerk.config import Settings, UnsafeConfiguration, refuse_unsafe, unsafe_reason
from stellwerk.runtime import Runtime

runner = CliRunner()
GOOD_SECRET = "test-secret-key-not-for-production"  # 35 bytes, what the tests run with
EXAMPLE_ENV = Path(__file__).parents[1] / "deploy" / "stellwerk.env.example"


def _settings(tmp_path: Path, **values: object) -> Settings:
    defaults: dict[str, object] = {"data_dir": tmp_path, "sandbox": False}
    return Settings(_env_file=None, **{**defaults, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["CHANGE-ME", "change-me", "...", "changeme-now-please-really"])
def test_a_template_secret_key_is_refused(tmp_path: Path, secret: str) -> None:
    reason = unsafe_reason(_settings(tmp_path, secret_key=secret))
    assert reason is not None
    assert "STELLWERK_SECRET_KEY" in reason
    assert "placeholder" in reason


def test_a_short_secret_key_is_refused_outside_sandbox_mode(tmp_path: Path) -> None:
    short = "x" * 31
    reason = unsafe_reason(_settings(tmp_path, secret_key=short))
    assert reason is not None
    assert "31 bytes" in reason
    assert "\n" not in reason
    assert unsafe_reason(_settings(tmp_path, secret_key="x" * 32)) is None
    assert unsafe_reason(_settings(tmp_path, secret_key=GOOD_SECRET)) is None
    # Sandbox mode reaches no real provider: anything goes there.
    assert unsafe_reason(_settings(tmp_path, secret_key=short, sandbox=True)) is None
    assert unsafe_reason(_settings(tmp_path, secret_key="CHANGE-ME", sandbox=True)) is None
    # No secret key at all: the key file, 32 random bytes.
    assert unsafe_reason(_settings(tmp_path)) is None


def test_every_placeholder_of_the_shipped_example_is_refused(tmp_path: Path) -> None:
    values = {}
    for line in EXAMPLE_ENV.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    base = {"secret_key": GOOD_SECRET}
    for name in ("STELLWERK_SECRET_KEY", "STELLWERK_METRICS_TOKEN", "STELLWERK_DATABASE_URL"):
        field = name.removeprefix("STELLWERK_").lower()
        reason = unsafe_reason(_settings(tmp_path, **{**base, field: values[name]}))
        assert reason is not None, name
        assert name in reason
        if "://" in values[name]:
            assert values[name] not in reason  # never the value


def test_runtime_refuses_to_start_with_a_reason(tmp_path: Path) -> None:
    settings = _settings(tmp_path, secret_key="CHANGE-ME")
    with pytest.raises(UnsafeConfiguration, match="^Refusing to start: STELLWERK_SECRET_KEY"):
        Runtime.from_settings(settings)
    refuse_unsafe(_settings(tmp_path, secret_key=GOOD_SECRET))


def test_serve_refuses_a_template_secret_in_one_line(tmp_path: Path) -> None:
    env = {"STELLWERK_SECRET_KEY": "CHANGE-ME", "STELLWERK_SANDBOX": "false"}
    for command in (["serve"], ["redirect", "serve"]):
        result = runner.invoke(app, [*command, "--data-dir", str(tmp_path)], env=env)
        assert result.exit_code == 1, result.output
        assert "Refusing to start: STELLWERK_SECRET_KEY" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_trailing_comments_are_dropped_from_env_files_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "stellwerk.env"
    env_file.write_text(
        "STELLWERK_TRUSTED_PROXIES=127.0.0.1       # Caddy's X-Forwarded-For is believed\n"
        "STELLWERK_PUBLIC_IPV4=203.0.113.10        # the address redirect domains point to\n"
        "STELLWERK_PUBLIC_URL=https://stellwerk.example.com/#top\n"
    )
    from_file = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert from_file.trusted_proxies == "127.0.0.1"
    assert from_file.public_ipv4 == "203.0.113.10"
    assert from_file.public_url == "https://stellwerk.example.com/#top"  # no space: no comment
    # systemd's EnvironmentFile and `docker --env-file` pass the comment on in the value.
    monkeypatch.setenv("STELLWERK_TRUSTED_PROXIES", "127.0.0.1   # Caddy")
    monkeypatch.setenv("STELLWERK_REDIRECT_PORT", "8080 # data plane")
    from_environment = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_environment.trusted_proxies == "127.0.0.1"
    assert from_environment.redirect_port == 8080


def test_a_comment_after_a_secret_is_refused_without_showing_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STELLWERK_SECRET_KEY", "s3cret-value-that-is-long-enough-xyz  # note")
    with pytest.raises(ValidationError, match="looks like a comment"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "STELLWERK_SECRET_KEY ends in what looks like a comment" in result.output
    assert "s3cret" not in result.output


def test_a_wrong_trusted_proxy_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STELLWERK_TRUSTED_PROXIES", "127.0.0.1, caddy")
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "STELLWERK_TRUSTED_PROXIES 'caddy' is not an address or network" in result.output
