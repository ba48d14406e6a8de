"""Redirect, domain and DNS pages in a real browser, used with the mouse."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.process import ServeProcess, base_env
from tests.web.conftest import ADMIN, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

PUBLIC_IPV4 = "203.0.113.10"
PUBLIC_IPV6 = "2001:db8::10"
# Visitors from Germany, France and the US (the offline country database knows them).
VISITORS = ["5.9.0.1", "5.9.0.1", "81.169.145.1", "51.15.0.1", "8.8.8.8"]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """The shared server plus public addresses (for DNS instructions), trusted loopback
    proxies (so test visits carry a country) and the INWX sandbox for domains and DNS."""
    directory = tmp_path_factory.mktemp("ui-redirects")
    env = base_env(directory / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_SANDBOX"] = "true"
    env["STELLWERK_LOGIN_RATE_LIMIT"] = "1000/minute"
    env["STELLWERK_PUBLIC_IPV4"] = PUBLIC_IPV4
    env["STELLWERK_PUBLIC_IPV6"] = PUBLIC_IPV6
    env["STELLWERK_TRUSTED_PROXIES"] = "127.0.0.1"
    server = ServeProcess(env, directory / "serve.log")
    server.start()
    yield server
    server.stop()


async def _visit(server: ServeProcess, host: str) -> None:
    """Visitors reach the data plane, which redirects them and records the hits."""
    plane = f"http://127.0.0.1:{server.env['STELLWERK_REDIRECT_PORT']}"
    async with httpx.AsyncClient(base_url=plane) as http:
        for ip in VISITORS:
            headers = {"Host": host, "X-Forwarded-For": ip, "User-Agent": "Mozilla/5.0 (X11)"}
            response = await http.get("/pricing", headers=headers)
            # A new domain is served from the data plane's next routing refresh on.
            for _ in range(50):
                if response.status_code != 404:
                    break
                await asyncio.sleep(0.1)
                response = await http.get("/pricing", headers=headers)
            assert response.status_code == 302, response.text


async def test_create_a_redirect_and_see_its_dns_records(
    page: Page, ui_server: ServeProcess
) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Redirects", exact=True).click()
    await expect(page.get_by_text("No redirect domains yet")).to_be_visible()
    await page.get_by_role("link", name="New redirect").click()

    # A mistake first: the error appears next to its field, what was typed stays.
    await page.get_by_label("Domain").fill("https://alt-firma.example/")
    await page.get_by_label("Target URL").fill("https://www.firma.example")
    await page.get_by_role("button", name="Add redirect").click()
    await expect(page.locator("#domain-error")).to_contain_text("bare domain name")
    await expect(page.get_by_label("Target URL")).to_have_value("https://www.firma.example")

    await page.get_by_label("Domain").fill("alt-firma.example")
    await page.get_by_label("Redirect code").select_option("302")
    await page.get_by_label("Keep the path").uncheck()
    await page.get_by_role("button", name="Add redirect").click()
    await expect(page.get_by_role("status")).to_contain_text("Added alt-firma.example")
    await expect(page.get_by_role("heading", name="alt-firma.example")).to_be_visible()
    records = page.locator("table.dns-records")
    await expect(records.get_by_role("row")).to_have_count(5)  # head + A/AAAA for apex and www
    await expect(records.get_by_role("row").filter(has_text="www.alt-firma.example")).to_have_count(
        2
    )
    await expect(records).to_contain_text(PUBLIC_IPV4)
    await expect(records).to_contain_text(PUBLIC_IPV6)
    await expect(
        page.get_by_role("button", name=f"Copy the value {PUBLIC_IPV4}").first
    ).to_be_visible()

    # Pending domains already redirect over HTTP: their hits fill the charts.
    await _visit(ui_server, "alt-firma.example")
    for _ in range(20):  # the hit writer flushes twice a second; a loaded machine is slower
        await asyncio.sleep(0.5)
        await page.reload()
        if "5 in 30 days" in await page.locator("figure").first.inner_text():
            break
    await expect(page.locator("dl.facts")).to_contain_text("5")
    await expect(page.locator("figure").filter(has_text="Hits per day")).to_contain_text(
        "5 in 30 days"
    )
    await expect(page.locator(".bar-list").first).to_contain_text("DE")
    await page.get_by_text("Countries, the last 30 days as a table").click()
    await expect(page.get_by_role("cell", name="FR")).to_be_visible()
    await screenshot(page, "redirect-detail")

    # Editing keeps the hits; the QR code is an image the page can show.
    await page.get_by_label("Target URL").fill("https://www.firma.example/neu")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Saved alt-firma.example")
    await expect(page.get_by_label("Target URL")).to_have_value("https://www.firma.example/neu")
    await expect(page.locator("dl.facts")).to_contain_text("5")
    qr_loaded = await page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth")
    assert qr_loaded

    await page.get_by_role("link", name="7 days").click()
    await expect(page.locator("figure").filter(has_text="Hits per day")).to_contain_text(
        "5 in 7 days"
    )

    await page.get_by_role("link", name="← Redirects").click()
    row = page.get_by_role("row").filter(has_text="alt-firma.example")
    await expect(row.locator(".status")).to_have_text("pending")
    await expect(row).to_contain_text("302")
    await screenshot(page, "redirects")

    await page.get_by_role("link", name="Statistics").click()
    await expect(page.locator(".bar-list").first).to_contain_text("alt-firma.example")
    await screenshot(page, "redirect-summary")

    # Deleting asks first; declining keeps the domain.
    await page.get_by_role("link", name="← Redirects").click()
    await page.get_by_role("link", name="alt-firma.example").click()
    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("heading", name="alt-firma.example")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted alt-firma.example")
    await expect(page.get_by_text("No redirect domains yet")).to_be_visible()


async def test_register_a_domain_and_edit_its_dns(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Domains", exact=True).click()
    await page.get_by_label("Domains").fill("demo-shop.de example.com")
    await page.get_by_role("button", name="Check").click()
    free = page.get_by_role("row").filter(has_text="demo-shop.de")
    await expect(free).to_contain_text("4.90 EUR")
    await expect(page.get_by_role("row").filter(has_text="example.com")).to_contain_text("taken")
    await free.get_by_role("link", name="Register…").click()
    await expect(page.locator(".offer")).to_contain_text("4.90 EUR")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("status")).to_contain_text("Registered demo-shop.de")

    await page.get_by_role("link", name="DNS records").click()
    await expect(page.get_by_role("heading", name="demo-shop.de")).to_be_visible()
    # Registering made the zone at the DNS provider: records can be added at once.
    await expect(page.get_by_role("button", name="Add the zone at inwx")).to_have_count(0)
    form = page.locator("form[action='/ui/dns/demo-shop.de/records']")
    for name, kind, value, priority in [
        ("@", "A", "192.0.2.10", ""),
        ("@", "MX", "mail.demo-shop.de", "10"),
        ("@", "TXT", "v=spf1 mx -all", ""),
    ]:
        await form.get_by_label("Name", exact=True).fill(name)
        await form.get_by_label("Type").select_option(kind)
        await form.get_by_label("Value").fill(value)
        await form.get_by_label("Priority").fill(priority)
        await form.get_by_role("button", name="Add record").click()
        await expect(page.get_by_role("status")).to_contain_text(f"Added {kind}")

    # A wrong value is refused next to its field.
    await form.get_by_label("Type").select_option("AAAA")
    await form.get_by_label("Value").fill("192.0.2.11")
    await form.get_by_role("button", name="Add record").click()
    await expect(page.locator("#content-error")).to_contain_text("IPv6")

    a_row = page.get_by_role("row").filter(has_text="192.0.2.10")
    await a_row.get_by_text("Edit").click()
    await a_row.get_by_label("Value").fill("192.0.2.20")
    await a_row.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved A demo-shop.de")
    await expect(page.get_by_role("row").filter(has_text="192.0.2.20")).to_have_count(1)
    await screenshot(page, "dns-records")

    page.once("dialog", lambda dialog: dialog.accept())
    txt = page.get_by_role("row").filter(has_text="v=spf1")
    await txt.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted the record")
    await expect(page.get_by_role("row").filter(has_text="v=spf1")).to_have_count(0)


async def test_redirect_pages_on_a_narrow_screen(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page)
    await page.goto("/ui/redirects/new")
    await expect(page.get_by_role("button", name="Add redirect")).to_be_visible()
    for path in ("/ui/redirects/new", "/ui/redirects/summary", "/ui/dns"):
        await page.goto(path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, path
