"""Where settings-configured providers answer: with `STELLWERK_SANDBOX=false` every base URL is
honoured exactly as given (INWX_API_URL, COOLIFY_API_URL with or without `/api/v1`,
HETZNER_DNS_API_URL), so any server that speaks the provider's protocol can stand in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from stellwerk.config import Settings
from stellwerk.provider import connect, registry
from stellwerk.provider.compute.hetzner.sandbox import create_app as hetzner_app
from stellwerk.provider.error import MISSING_CREDENTIALS, ProviderError
from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, sandbox=False, **values)  # type: ignore[call-arg]


def test_inwx_live_test_system_and_own_url() -> None:
    live = _settings(inwx_username="u", inwx_password="p")
    assert connect.endpoint(live, "inwx").url == registry.INWX_LIVE_URL
    ote = _settings(inwx_username="u", inwx_password="p", inwx_use_test=True)
    assert connect.endpoint(ote, "inwx").url == "https://api.ote.domrobot.com"
    own = _settings(
        inwx_username="u", inwx_password="p", inwx_use_test=True, inwx_api_url="http://10.1.2.3:81/"
    )
    assert connect.endpoint(own, "inwx").url == "http://10.1.2.3:81"
    assert not connect.endpoint(own, "inwx").sandbox


@pytest.mark.parametrize(
    "given",
    ["https://coolify.example", "https://coolify.example/", "https://coolify.example/api/v1"],
)
def test_coolify_with_or_without_api_v1(given: str) -> None:
    settings = _settings(coolify_api_url=given, coolify_api_token="t")
    assert connect.endpoint(settings, "coolify").url == "https://coolify.example/api/v1"


def test_coolify_behind_a_path() -> None:
    settings = _settings(coolify_api_url="https://proxy.example/coolify", coolify_api_token="t")
    assert connect.endpoint(settings, "coolify").url == "https://proxy.example/coolify/api/v1"


def test_hetzner_dns_url() -> None:
    settings = _settings(hetzner_api_token="t", hetzner_dns_api_url="http://127.0.0.1:9/v1")
    assert connect.endpoint(settings, "hetzner").url == "http://127.0.0.1:9/v1"
    default = _settings(hetzner_api_token="t")
    assert connect.endpoint(default, "hetzner").url == "https://api.hetzner.cloud/v1"


def test_without_credentials_in_real_mode_the_missing_settings_are_named() -> None:
    with pytest.raises(ProviderError) as caught:
        connect.endpoint(_settings(), "coolify")
    assert caught.value.code == MISSING_CREDENTIALS
    assert "COOLIFY_API_TOKEN" in caught.value.message


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[dict[str, RunningSandbox]]:
    running = {
        "inwx": await start_server(inwx_app(None), name="inwx"),
        "coolify": await start_server(coolify_app(None), name="coolify"),
        "hetzner": await start_server(hetzner_app(None), name="hetzner", suffix="/v1"),
    }
    yield running
    for server in running.values():
        await server.stop()


async def test_real_mode_talks_to_the_configured_urls(servers: dict[str, RunningSandbox]) -> None:
    settings = _settings(
        inwx_username="sandbox-operator",
        inwx_password="sandbox-secret",
        inwx_api_url=servers["inwx"].url,
        coolify_api_url=servers["coolify"].url,  # the instance root: `/api/v1` is added
        coolify_api_token="sandbox-operator",
        hetzner_api_token="sandbox-operator",
        hetzner_dns_api_url=servers["hetzner"].url,
    )
    async with connect.registrar(settings) as registrar:
        assert (await registrar.get_contact(contact_id="12345")).id == "12345"
    async with connect.paas(settings) as paas:
        assert (await paas.list_servers())[0].name == "hetzner-1"
    async with connect.dns(settings, "hetzner") as dns:
        assert await dns.list_zones() == []
