"""Every page in a real browser, on a wide screen and a phone, in light and dark: nothing wider
than the window or its box, no console errors. Plus the phone's menu, the search box used with
the keyboard, and a field's error that goes once the field is edited."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.process import ServeProcess, base_env
from tests.web.conftest import ADMIN, screenshot
from tests.web.seed import CUSTOMER, Seeded, seed
from tests.web.walk import pages_to_visit, walk

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Pages whose pictures the README shows, taken on the wide light walk.
SCREENSHOTS = {"/ui/": "dashboard", "/ui/search?q=acme": "search"}


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A server with the provider sandboxes inside, so every area has something to show."""
    directory = tmp_path_factory.mktemp("ui-walk")
    env = base_env(directory / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_SANDBOX"] = "true"
    env["STELLWERK_SANDBOX_PROVISION_SECONDS"] = "1"
    env["STELLWERK_PROJECT_POLL_SECONDS"] = "0.5"
    env["STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS"] = "1"
    env["STELLWERK_LOGIN_RATE_LIMIT"] = "1000/minute"
    server = ServeProcess(env, directory / "serve.log")
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def seeded(ui_server: ServeProcess) -> Seeded:
    redirects = f"http://127.0.0.1:{ui_server.env['STELLWERK_REDIRECT_PORT']}"
    return await seed(ui_server.url, ADMIN, redirect_url=redirects)


@pytest_asyncio.fixture(loop_scope="session")
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


async def _page(
    browser: Browser,
    contexts: list[BrowserContext],
    server: ServeProcess,
    *,
    viewport: dict[str, int],
    scheme: str,
    user: tuple[str, str] = ADMIN,
) -> Page:
    context = await browser.new_context(
        base_url=server.url,
        viewport=viewport,  # type: ignore[arg-type]
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    contexts.append(context)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Username").fill(user[0])
    await page.get_by_label("Password").fill(user[1])
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/ui/")
    return page


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(WIDE, "light"), (WIDE, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["1280-light", "1280-dark", "390-light", "390-dark"],
)
async def test_every_page_fits(
    browser: Browser,
    contexts: list[BrowserContext],
    ui_server: ServeProcess,
    seeded: Seeded,
    viewport: dict[str, int],
    scheme: str,
) -> None:
    page = await _page(browser, contexts, ui_server, viewport=viewport, scheme=scheme)
    paths = pages_to_visit(seeded.pages)
    result = await walk(page, paths)
    assert result.problems == []
    assert len(result.visited) == len(paths)  # an admin may open every one
    if viewport is WIDE:
        for path, name in SCREENSHOTS.items():
            await page.goto(path)
            await page.wait_for_load_state("networkidle")
            await screenshot(page, name if scheme == "light" else f"{name}-dark")


async def test_a_customer_on_a_phone(
    browser: Browser, contexts: list[BrowserContext], ui_server: ServeProcess, seeded: Seeded
) -> None:
    page = await _page(browser, contexts, ui_server, viewport=PHONE, scheme="light", user=CUSTOMER)
    # The navigation folds behind the menu button and opens with it.
    navigation = page.get_by_role("navigation", name="Main")
    await expect(navigation).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(navigation.get_by_role("link", name="Servers")).to_be_visible()
    await expect(navigation.get_by_role("link", name="Licenses")).to_have_count(0)
    await screenshot(page, "phone-menu")
    await menu.click()
    await expect(navigation).to_be_hidden()

    # "/" focuses the search; the customer finds their own server, not the company's.
    await page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Find anything")
    await expect(search).to_be_focused()
    await page.keyboard.type("web")
    suggestions = page.locator("#search-suggestions")
    await expect(suggestions.get_by_role("link", name=re.compile("carol-web"))).to_be_visible()
    await expect(suggestions).not_to_contain_text("web-1")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="carol-web")).to_be_visible()

    result = await walk(page, pages_to_visit(seeded.pages), skip=(403, 404))
    assert result.problems == []
    assert "/ui/licenses" not in result.visited  # the company's pages answer 403
    assert "/ui/servers" in result.visited


async def test_an_error_goes_once_its_field_is_edited(
    browser: Browser, contexts: list[BrowserContext], ui_server: ServeProcess
) -> None:
    page = await _page(browser, contexts, ui_server, viewport=WIDE, scheme="light")
    await page.goto("/ui/providers")
    form = page.locator("form[action='/ui/providers']")
    await form.get_by_role("button", name="Add provider").click()
    error = page.locator("#name-error")
    await expect(error).to_have_text("Enter a name")
    await form.get_by_label("Name").fill("Hetzner")
    await expect(error).to_be_hidden()
