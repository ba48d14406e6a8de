"""Browser tests: a real `stellwerk serve` and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.process import ServeProcess, base_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
ADMIN = ("ui-admin", "ui-admin-password")
# As root in a container, without network: the flags that keep Chromium quiet and working.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    directory = tmp_path_factory.mktemp("ui")
    env = base_env(directory / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_SANDBOX"] = "false"
    # Every test logs in through the form; the login limit has its own tests.
    env["STELLWERK_LOGIN_RATE_LIMIT"] = "1000/minute"
    server = ServeProcess(env, directory / "serve.log")
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - once per session
        pytest.skip("Chromium is not installed (Debian package chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, ui_server: ServeProcess) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=ui_server.url, viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    yield page
    await context.close()


async def log_in(page: Page, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/ui/")


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
