"""`stellwerk providers check` against strict sandboxes on loopback, in real mode: each verdict
says what works and what to fix (a wrong token, a missing Coolify ability, INWX's 2FA state),
and nothing is created."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from stellwerk.config import Settings
from stellwerk.provider import check
from stellwerk.provider.compute.digitalocean.sandbox import create_app as digitalocean_app
from stellwerk.provider.compute.hetzner.sandbox import create_app as hetzner_app
from stellwerk.provider.compute.linode.sandbox import create_app as linode_app
from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.registrar.inwx.sandbox import SANDBOX_2FA_SECRET
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[dict[str, RunningSandbox]]:
    running = {
        "inwx": await start_server(inwx_app(None), name="inwx"),
        "coolify": await start_server(coolify_app(None), name="coolify", suffix="/api/v1"),
        "hetzner": await start_server(hetzner_app(None), name="hetzner", suffix="/v1"),
        "linode": await start_server(linode_app(None), name="linode", suffix="/v4"),
        "digitalocean": await start_server(digitalocean_app(None), name="digitalocean"),
    }
    yield running
    for server in running.values():
        await server.stop()


def _settings(servers: dict[str, RunningSandbox], **values: Any) -> Settings:
    base: dict[str, Any] = {
        "sandbox": False,
        "inwx_username": "sandbox-operator",
        "inwx_password": "sandbox-secret",
        "inwx_api_url": servers["inwx"].url,
        "coolify_api_url": servers["coolify"].url,
        "coolify_api_token": "sandbox-operator",
        "hetzner_api_token": "sandbox-operator",
        "hetzner_dns_api_url": servers["hetzner"].url,
    }
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


def _text(report: check.Report) -> str:
    return "\n".join(f"{f.message} {f.fix or ''}" for f in report.findings)


async def test_everything_configured_and_working(servers: dict[str, RunningSandbox]) -> None:
    reports = {r.provider: r for r in await check.check_settings_providers(_settings(servers))}
    assert reports["inwx"].verdict == "ok", _text(reports["inwx"])
    assert "2FA is off" in _text(reports["inwx"])
    assert reports["coolify"].verdict == "ok", _text(reports["coolify"])
    assert "read, write, deploy and read:sensitive" in _text(reports["coolify"])
    assert reports["coolify"].rate_limit is not None
    assert reports["hetzner"].verdict == "ok", _text(reports["hetzner"])
    assert reports["hetzner"].rate_limit is not None
    assert reports["hetzner"].clock_skew_seconds is not None
    assert reports["powerdns"].verdict == "not_configured"
    # Nothing was created: Coolify still has no project, INWX no session left open.
    async with httpx.AsyncClient(
        base_url=servers["coolify"].url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        assert (await http.get("/projects")).json() == []
    assert servers["inwx"].server.config.app.sandbox.data["sessions"] == {}


async def test_a_missing_coolify_ability_is_named(servers: dict[str, RunningSandbox]) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{servers['coolify'].port}/__sandbox__/tokens",
            json={"token": "sandbox-limited", "abilities": ["read", "write"]},
        )
    settings = _settings(servers, coolify_api_token="sandbox-limited")
    report = await check.check_settings_provider(settings, "coolify")
    assert report.verdict == "failed"
    text = _text(report)
    assert "lacks the abilities deploy, read:sensitive" in text
    assert "read:sensitive" in text
    assert "COOLIFY_API_TOKEN" in text


async def test_the_inwx_2fa_state_is_told(servers: dict[str, RunningSandbox]) -> None:
    with_secret = _settings(
        servers, inwx_username="sandbox-operator-2fa", inwx_2fa_secret=SANDBOX_2FA_SECRET
    )
    report = await check.check_settings_provider(with_secret, "inwx")
    assert report.verdict == "ok", _text(report)
    assert "2FA is on" in _text(report)
    without = _settings(servers, inwx_username="sandbox-other-2fa")
    report = await check.check_settings_provider(without, "inwx")
    assert report.verdict == "failed"
    assert "INWX_2FA_SECRET" in _text(report)


async def test_a_wrong_token_is_named_per_provider(servers: dict[str, RunningSandbox]) -> None:
    settings = _settings(
        servers,
        coolify_api_token="wrong",
        hetzner_api_token="wrong",
        inwx_password="wrong",
    )
    reports = {r.provider: r for r in await check.check_settings_providers(settings)}
    assert "refused the credentials (HTTP 401)" in _text(reports["coolify"])
    assert "API tokens" in _text(reports["coolify"])
    assert "refused the credentials (HTTP 401)" in _text(reports["hetzner"])
    assert "HETZNER_API_TOKEN" in _text(reports["hetzner"])
    assert "refused the login" in _text(reports["inwx"])
    for name in ("linode", "digitalocean", "hetzner"):
        wrong = await check.check_compute(
            name, token="wrong", base_url=servers[name].url, label="Production"
        )
        assert wrong.verdict == "failed", name
        assert "refused the credentials" in _text(wrong)
        right = await check.check_compute(
            name, token="sandbox-operator", base_url=servers[name].url, label="Production"
        )
        assert right.verdict == "ok", (name, _text(right))
        assert right.rate_limit is not None


async def test_a_web_page_instead_of_the_api_is_told(servers: dict[str, RunningSandbox]) -> None:
    settings = _settings(servers, coolify_api_url="http://127.0.0.1:1")
    report = await check.check_settings_provider(settings, "coolify")
    assert report.verdict == "failed"
    assert "did not answer" in _text(report)
