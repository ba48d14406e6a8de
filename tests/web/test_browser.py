"""The web UI in a real browser, used with the mouse as a person would."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.process import ServeProcess
from tests.web.conftest import ADMIN, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


async def test_log_in_and_see_the_dashboard(page: Page) -> None:
    await page.goto("/ui/")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await log_in(page)
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await screenshot(page, "dashboard")


async def test_create_a_token_and_see_it_once(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="API tokens").click()
    await page.get_by_label("Name").fill("deploy script")
    await page.get_by_label("read:domains").check()
    await page.get_by_label("write:domains").check()
    await page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token")
    await expect(secret).to_have_text(re.compile(r"^nrx_[0-9a-f]{64}$"))
    token = await secret.inner_text()
    await screenshot(page, "token-created")
    await page.goto("/ui/tokens")  # coming back later
    await expect(page.locator("#new-token")).to_have_count(0)
    assert token not in await page.content()
    await expect(page.get_by_role("cell", name="deploy script")).to_be_visible()


async def test_revoke_asks_first(page: Page) -> None:
    await log_in(page)
    await page.goto("/ui/tokens")
    await page.get_by_label("Name").fill("to revoke")
    await page.get_by_label("read:servers").check()
    await page.get_by_role("button", name="Create token").click()
    page.once("dialog", lambda dialog: dialog.accept())
    row = page.get_by_role("row").filter(has_text="to revoke")
    await row.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("status")).to_contain_text("revoked")
    await expect(row.get_by_text("revoked")).to_be_visible()


async def test_rotate_the_license_key(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="License API key").click()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Rotate key").click()
    await expect(page.locator("#new-key")).to_have_text(re.compile(r"^AF-\d{4}-[A-Za-z0-9]{32}$"))


async def test_watch_an_operation_reach_100_percent(page: Page, ui_server: ServeProcess) -> None:
    async with httpx.AsyncClient(base_url=ui_server.url) as api:
        login = await api.post("/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        operation = (
            await api.post(
                "/api/operations/probe",
                json={"steps": 4, "seconds": 0.7},
                headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            )
        ).json()
    await log_in(page)
    await page.get_by_role("link", name="Operations", exact=True).click()
    await page.get_by_role("link", name="probe").first.click()
    await expect(page).to_have_url(re.compile(operation["id"]))
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=30_000)
    await expect(page.locator(".status.completed").first).to_be_visible()
    await screenshot(page, "operation")


async def test_users_and_audit_for_admins(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Users").click()
    # The browser itself refuses a short password; the server refuses a taken name.
    await page.get_by_label("Username", exact=True).fill(ADMIN[0])
    await page.get_by_label("Password", exact=True).fill("short")
    assert await page.get_by_label("Password", exact=True).evaluate("e => !e.validity.valid")
    await page.get_by_label("Password", exact=True).fill("a-long-enough-password")
    await page.get_by_role("button", name="Create user").click()
    await expect(page.locator("#username-error")).to_contain_text("taken")
    await page.get_by_label("Username", exact=True).fill("operator")
    await page.get_by_label("Password", exact=True).fill("a-long-enough-password")
    await page.get_by_role("button", name="Create user").click()
    await expect(page.get_by_role("status")).to_contain_text("Created operator")
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("cell", name="user.create").first).to_be_visible()
    await screenshot(page, "audit")


async def test_narrow_screen(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page)
    await page.goto("/ui/tokens")
    await expect(page.get_by_role("button", name="Create token")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
