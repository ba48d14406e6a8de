"""Server pages in a real browser: providers, plans, and a server created in sandbox mode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.process import ServeProcess, base_env
from tests.web.conftest import ADMIN, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """Like the shared server, but with the provider sandboxes running inside it."""
    directory = tmp_path_factory.mktemp("ui-servers")
    env = base_env(directory / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_SANDBOX"] = "true"
    env["STELLWERK_SANDBOX_PROVISION_SECONDS"] = "2"
    env["STELLWERK_LOGIN_RATE_LIMIT"] = "1000/minute"
    server = ServeProcess(env, directory / "serve.log")
    server.start()
    yield server
    server.stop()


async def _add_provider(page: Page, name: str, provider_type: str) -> None:
    await page.get_by_role("link", name="Providers", exact=True).click()
    form = page.locator("form[action='/ui/providers']")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Type").select_option(provider_type)
    await form.get_by_label("API key").fill("sandbox-web-ui-token")
    await page.get_by_role("button", name="Add provider").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Added {name}")


async def test_providers_never_show_the_key(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Providers", exact=True).click()
    # Sandbox mode starts with the three sandbox providers; their keys are never shown either.
    await expect(page.get_by_role("heading", name="Providers", exact=True)).to_be_visible()
    assert "sandbox-" not in await page.content()
    form = page.locator("form[action='/ui/providers']")
    await form.get_by_label("Name").fill("Broken")
    await form.get_by_label("API key").fill("not-a-sandbox-key")
    await page.get_by_role("button", name="Add provider").click()
    await expect(page.locator("#api_key-error")).to_be_visible()
    assert "not-a-sandbox-key" not in await page.content()

    await _add_provider(page, "Hetzner web", "hetzner")
    assert "sandbox-web-ui-token" not in await page.content()
    row = page.get_by_role("row").filter(has_text="Hetzner web")
    await row.get_by_role("button", name="Clear catalog cache").click()
    await expect(page.get_by_role("status")).to_contain_text("catalog cache")
    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_contain_text("Hetzner web is inactive")
    await row.get_by_role("button", name="Activate").click()
    await expect(page.get_by_role("status")).to_contain_text("Hetzner web is active")
    await screenshot(page, "providers")

    await page.get_by_role("link", name="Plans", exact=True).click()
    form = page.locator("form[action='/ui/plans']")
    await form.locator("select[name=provider_id]").select_option(label="Hetzner web (hetzner)")
    await form.get_by_label("Provider's plan id").fill("cx23")
    await form.get_by_label("Base price", exact=True).fill("4.50")
    await form.get_by_label("Markup", exact=True).fill("1.50")
    await page.get_by_role("button", name="Add plan").click()
    await expect(page.get_by_role("status")).to_contain_text("Added plan cx23")
    mine = page.get_by_role("row").filter(has_text="Hetzner web").filter(has_text="cx23")
    await expect(mine).to_contain_text("6.00")
    await form.locator("select[name=provider_id]").select_option(label="Hetzner web (hetzner)")
    await form.get_by_label("Provider's plan id").fill("no-such-size")
    await page.get_by_role("button", name="Add plan").click()
    await expect(page.locator("#provider_plan_id-error")).to_contain_text("no plan")
    await screenshot(page, "plans")


async def test_create_a_server_and_watch_it_run(page: Page) -> None:
    await log_in(page)
    await _add_provider(page, "DigitalOcean sandbox", "digitalocean")
    await page.get_by_role("link", name="Servers", exact=True).click()
    await page.get_by_role("link", name="New server").click()
    await page.get_by_label("Provider").select_option(label="DigitalOcean sandbox (digitalocean)")
    # The catalog dropdowns follow the provider.
    await expect(page.get_by_label("Region").locator("option[value='nyc3']")).to_have_count(1)
    await page.get_by_label("Label").fill("web-ui-1")
    await page.get_by_label("Region").select_option("nyc3")
    await page.get_by_label("Size").select_option("s-1vcpu-1gb")
    await page.get_by_label("Image").select_option("ubuntu-22-04-x64")
    await screenshot(page, "server-new")
    await page.get_by_role("button", name="Create server").click()
    await expect(page.get_by_role("status")).to_contain_text("Creating web-ui-1")
    await expect(page.get_by_role("heading", name="web-ui-1")).to_be_visible()
    await expect(page.locator("#server-status .status").first).to_have_text(
        "running", timeout=60_000
    )
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=30_000)
    await expect(page.locator("code.ipv4")).to_have_text(re.compile(r"^\d+\.\d+\.\d+\.\d+$"))
    await screenshot(page, "server-detail")

    # DigitalOcean has power_cycle; actions report back.
    await page.get_by_role("button", name="Reboot").click()
    await expect(page.get_by_role("status")).to_contain_text("Reboot: sent to web-ui-1")
    await expect(page.get_by_role("button", name="Power cycle")).to_be_visible()

    await page.get_by_role("link", name="← Servers").click()
    row = page.get_by_role("row").filter(has_text="web-ui-1")
    await expect(row.locator(".status")).to_have_text("running", timeout=60_000)
    await screenshot(page, "servers")

    await row.get_by_role("link", name="web-ui-1").click()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted web-ui-1")
    await expect(page.get_by_role("row").filter(has_text="web-ui-1")).to_have_count(0)


async def test_a_bad_label_is_shown_next_to_its_field(page: Page) -> None:
    await log_in(page)
    await page.goto("/ui/servers/new")
    label = page.get_by_label("Label")
    # The browser stops a label the provider would refuse; the server checks it too.
    await label.evaluate("e => e.removeAttribute('pattern')")
    await label.fill("-bad-")
    await page.get_by_role("button", name="Create server").click()
    await expect(page.locator("#label-error")).to_be_visible()
