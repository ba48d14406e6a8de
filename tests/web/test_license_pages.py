"""Licensing pages in a real browser, used with the mouse: licenses, customers, bulk actions."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


async def _create_customer(page: Page, name: str) -> None:
    await page.goto("/ui/customers")
    form = page.locator("form[action='/ui/customers']")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Email").fill(f"{name.split()[0].lower()}@example.com")
    await page.get_by_role("button", name="Create customer").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Created customer {name}")


async def _create_license(page: Page, customer_prefix: str, customer: str) -> str:
    """Through the form: pick the customer by typing, keep the generated key."""
    await page.get_by_role("link", name="Licenses", exact=True).click()
    await page.get_by_role("link", name="New license").click()
    key = await page.get_by_label("License key").input_value()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", key)
    await page.get_by_label("Customer").press_sequentially(customer_prefix, delay=40)
    await page.get_by_role("button", name=customer).click()
    await expect(page.locator("#customer-chosen")).to_have_text(f"Chosen: {customer}")
    await page.get_by_label("Max activations").fill("3")
    await page.get_by_role("button", name="Create license").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Created license {key}")
    return key


async def test_activate_and_toggle_a_license(page: Page) -> None:
    await log_in(page)
    await _create_customer(page, "Kestrel Labs")
    key = await _create_license(page, "Kestr", "Kestrel Labs")
    await expect(page.get_by_role("heading", name=key)).to_be_visible()

    # Activate it on a device, by hand, as support does for a customer.
    await page.get_by_label("Hardware hash").fill("hw-kestrel-0001")
    await page.get_by_label("Machine name").fill("kestrel-laptop")
    await page.get_by_role("button", name="Activate on device").click()
    await expect(page.get_by_role("status")).to_contain_text("Activated on the device")
    device = page.get_by_role("row").filter(has_text="kestrel-laptop")
    await expect(device.get_by_text("active", exact=True)).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("1 of 3")
    await expect(page.locator("figure").first).to_contain_text("1 in 30 days")
    await screenshot(page, "license-detail")

    # Toggle: deactivating asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Deactivate", exact=True).first.click()
    await expect(page.get_by_role("status")).to_contain_text(f"License {key} is inactive")
    await expect(page.locator("h1 .status")).to_have_text("inactive")
    await page.get_by_role("button", name="Activate", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(f"License {key} is active")

    # Free the device's seat again.
    page.once("dialog", lambda dialog: dialog.accept())
    await device.get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_contain_text("seat is free")
    await expect(page.locator("dl.facts")).to_contain_text("0 of 3")


async def test_bulk_actions_and_quick_edit(page: Page) -> None:
    await log_in(page)
    await _create_customer(page, "Bulk Partners")
    keys = [await _create_license(page, "Bulk", "Bulk Partners") for _ in range(2)]
    await page.get_by_role("link", name="Licenses", exact=True).click()
    await page.get_by_label("Search").fill("Bulk Partners")
    await page.get_by_role("button", name="Filter").click()
    for key in keys:
        await page.get_by_label(f"Select {key}").check()
    # Declining the confirmation changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.get_by_role("button", name="Deactivate", exact=True).first.click()
    await expect(page.get_by_role("status")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator(".bulkbar").get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_contain_text("Deactivated 2 license(s)")
    for key in keys:
        row = page.get_by_role("row").filter(has_text=key)
        await expect(row.locator(".status")).to_have_text("inactive")
    await screenshot(page, "licenses")

    row = page.get_by_role("row").filter(has_text=keys[0])
    await row.get_by_text("Quick edit").click()
    await row.get_by_label("Max activations").fill("9")
    await row.get_by_label("Valid until").fill("2031-12-31")
    await row.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Saved {keys[0]}")
    row = page.get_by_role("row").filter(has_text=keys[0])
    await expect(row).to_contain_text("2031-12-31")
    await expect(row).to_contain_text("/ 9")

    await page.get_by_label("Select all").check()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator(".bulkbar").get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted 2 license(s)")
    await expect(page.get_by_text("No licenses match")).to_be_visible()


async def test_customer_search_as_you_type(page: Page) -> None:
    await log_in(page)
    await _create_customer(page, "Quokka Systems")
    await _create_customer(page, "Wombat Trading")
    await page.get_by_role("link", name="Customers", exact=True).click()
    search = page.get_by_label("Find a customer")
    await search.press_sequentially("quok", delay=60)
    results = page.locator("#customer-list")
    await expect(results.get_by_role("link", name="Quokka Systems")).to_be_visible()
    await expect(results.get_by_text("Wombat Trading")).to_have_count(0)
    await screenshot(page, "customer-search")
    await search.fill("")
    await search.press_sequentially("zzzz", delay=40)
    await expect(results).to_contain_text("No customer matches")
    await search.fill("")
    await search.press_sequentially("womb", delay=40)
    await results.get_by_role("link", name="Wombat Trading").click()
    await expect(page.get_by_role("heading", name="Wombat Trading")).to_be_visible()
    await page.get_by_label("Email").fill("sales@wombat.example")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved Wombat Trading")


async def test_resources_releases_and_clients(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Resources", exact=True).click()
    await expect(page.get_by_text("No resources in the pool yet")).to_be_visible()
    await page.get_by_label("Type", exact=True).last.fill("domain")
    await page.get_by_label("Name or address").fill("shop.example.org")
    await page.get_by_role("button", name="Add to pool").click()
    await expect(page.get_by_role("status")).to_contain_text("Added domain shop.example.org")
    await screenshot(page, "resources")

    await page.get_by_role("link", name="Releases", exact=True).click()
    await page.get_by_label("Version", exact=True).fill("3.2.0")
    await page.get_by_label("Minimum supported version").fill("4.0.0")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#min_supported-error")).to_be_visible()
    await page.get_by_label("Minimum supported version").fill("3.0.0")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_contain_text("Published 3.2.0")

    await page.get_by_role("link", name="Client apps", exact=True).click()
    row = page.get_by_role("row").filter(has_text="Account Forger")
    await row.get_by_label("Heartbeat interval of Account Forger").fill("45")
    await row.get_by_label("Session timeout of Account Forger").fill("120")
    await row.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved Account Forger")
    await expect(row.get_by_label("Heartbeat interval of Account Forger")).to_have_value("45")


async def test_licenses_on_a_narrow_screen(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page)
    await page.goto("/ui/licenses")
    await expect(page.get_by_role("link", name="New license")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
    await screenshot(page, "licenses-narrow")
