"""Long-running work in a real browser: a project provisioned against the sandboxes and a module
installed from the built-in repository, both followed live on their pages."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import modules_dir
from tests.process import ServeProcess, base_env
from tests.web.conftest import ADMIN, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


def _stop_module_processes(modules_root: Path) -> None:
    """Module processes outlive Stellwerk by design; stop them by their pid files."""
    for pid_file in (modules_root / ".run").glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.killpg(int(json.loads(pid_file.read_text())["pid"]), signal.SIGKILL)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """Like the shared server, with the provider sandboxes (INWX, Coolify) running inside."""
    directory = tmp_path_factory.mktemp("ui-workflows")
    env = base_env(directory / "var")
    env["STELLWERK_ADMIN_USERNAME"], env["STELLWERK_ADMIN_PASSWORD"] = ADMIN
    env["STELLWERK_SANDBOX"] = "true"
    env["STELLWERK_PROJECT_POLL_SECONDS"] = "0.5"
    env["STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS"] = "2"
    env["STELLWERK_LOGIN_RATE_LIMIT"] = "1000/minute"
    env["STELLWERK_MODULES_DIR"] = str(modules_dir())  # reachable for the module user
    server = ServeProcess(env, directory / "serve.log")
    server.start()
    yield server
    server.stop()
    _stop_module_processes(Path(env["STELLWERK_MODULES_DIR"]))
    shutil.rmtree(env["STELLWERK_MODULES_DIR"], ignore_errors=True)


async def test_start_a_project_and_watch_it_go_live(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Projects", exact=True).click()
    await expect(page.get_by_text("No projects yet")).to_be_visible()
    await page.get_by_role("link", name="New project").click()
    await page.get_by_label("Name", exact=True).fill("Web Shop")
    await page.get_by_label("Domain", exact=True).fill("web-shop.de")
    await page.get_by_role("button", name="Create project").click()
    # Refused next to its field, with the domain kept.
    await expect(page.locator("#name-error")).to_contain_text("lower-case")
    await expect(page.get_by_label("Domain", exact=True)).to_have_value("web-shop.de")

    await page.get_by_label("Name", exact=True).fill("webshop")
    await page.get_by_label("Plugins").fill("core, crm")
    await page.get_by_label("Server").select_option(label="hetzner-1 (203.0.113.10)")
    await page.get_by_label("Register the domain").check()
    await page.get_by_role("button", name="Create project").click()
    await expect(page.get_by_role("status")).to_contain_text("Provisioning webshop")
    await expect(page.get_by_role("heading", name="webshop")).to_be_visible()
    await expect(page.locator(".step.current")).to_have_count(1, timeout=30_000)
    await screenshot(page, "project-progress")
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=90_000)
    await expect(page.locator("#project-status .status").first).to_have_text("active")
    await expect(page.locator("a.live-url")).to_have_text("https://web-shop.de")
    await expect(page.locator("table.dns-records")).to_contain_text("A")
    await expect(page.locator("code.coolify-app")).not_to_have_text("—")
    await expect(page.locator(".step.done")).to_have_count(9)
    await screenshot(page, "project-active")

    await page.get_by_role("link", name="← Projects").click()
    row = page.get_by_role("row").filter(has_text="webshop")
    await expect(row.locator(".status")).to_have_text("active")
    await expect(row).to_contain_text("https://web-shop.de")


async def test_install_a_module_and_see_it_run(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Modules", exact=True).click()
    await expect(page.get_by_text("No modules installed")).to_be_visible()
    await page.get_by_role("link", name="Install a module").click()
    await page.get_by_label("Search").fill("dashboard")
    await page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text="v2_dashboard")
    await row.get_by_role("button", name="Install").click()
    await expect(page.get_by_role("status")).to_contain_text("Installing v2_dashboard")
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=90_000)
    await expect(page.locator("#module-progress .status").first).to_have_text("completed")
    await page.get_by_role("link", name="See the installed instances").click()
    instance = page.locator("tr[data-instance]")
    await expect(instance).to_have_count(1)
    await expect(instance.locator(".status")).to_have_text("running", timeout=30_000)
    await expect(instance.get_by_text("primary")).to_be_visible()
    await screenshot(page, "modules")

    # The page follows the module feed over a WebSocket with the browser's session.
    async with page.expect_websocket() as opened:
        await page.reload()
    socket = await opened.value
    assert socket.url.endswith("/ws/module_feed")
    frame = await socket.wait_for_event("framereceived")
    assert json.loads(frame)["type"] in ("operation", "instance")

    # Its frontend, through Stellwerk, behind the same login.
    async with page.context.expect_page() as popup:
        await instance.get_by_role("link", name="Open /v2_dashboard/").click()
    dashboard = await popup.value
    await expect(dashboard.get_by_role("heading", name="V2 Dashboard")).to_be_visible()
    await dashboard.close()

    # Stop and start it again: its status follows.
    page.once("dialog", lambda dialog: dialog.accept())
    await instance.get_by_role("button", name="Stop").click()
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=60_000)
    await page.get_by_role("link", name="See the installed instances").click()
    await expect(instance.locator(".status")).to_have_text("stopped")
    await instance.get_by_role("button", name="Start").click()
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=60_000)
    await page.get_by_role("link", name="See the installed instances").click()
    await expect(instance.locator(".status")).to_have_text("running", timeout=30_000)

    await page.get_by_role("link", name="Repositories", exact=True).click()
    builtin = page.get_by_role("row").filter(has_text="local-module-repository")
    await expect(builtin).to_contain_text("1 (1 installed)")

    await page.get_by_role("link", name="Installed", exact=True).click()
    page.once("dialog", lambda dialog: dialog.accept())
    await instance.get_by_role("button", name="Delete").click()
    await expect(page.locator(".percent")).to_have_text("100 %", timeout=60_000)
    await page.get_by_role("link", name="See the installed instances").click()
    await expect(page.get_by_text("No modules installed")).to_be_visible()


async def test_project_pages_on_a_narrow_screen(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page)
    for path in ("/ui/projects", "/ui/projects/new", "/ui/modules/available"):
        await page.goto(path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, path


async def test_contacts_and_notes_of_a_lead(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Leads", exact=True).click()
    await page.get_by_role("link", name="New lead").click()
    await page.get_by_label("Name", exact=True).fill("Harbour College")
    await page.get_by_role("button", name="Create lead").click()
    await expect(page.get_by_role("status")).to_contain_text("Lead Harbour College created")

    new_contact = page.locator("#new-contact")
    await new_contact.get_by_label("First name").fill("Ada")
    await new_contact.get_by_label("Last name").fill("Lovelace")
    await new_contact.get_by_label("Email").evaluate("e => e.type = 'text'")
    await new_contact.get_by_label("Email").fill("not-an-address")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.locator("#contact_email-error")).to_contain_text("email")
    await new_contact.get_by_label("Email").fill("ada@harbour.example")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.get_by_role("status")).to_contain_text("Contact Ada Lovelace added")

    contact = page.locator("article.contact")
    await contact.get_by_label("New note for Ada").fill("Met at the fair")
    await contact.get_by_role("button", name="Add note").click()
    await expect(contact.locator(".note-text")).to_have_text("Met at the fair")
    await contact.get_by_text("Edit note").click()
    await contact.locator(".notes textarea").fill("Met at the fair; wants a demo")
    await contact.get_by_role("button", name="Save note").click()
    await expect(page.get_by_role("status")).to_contain_text("version 2")
    await screenshot(page, "lead-contacts")
    page.once("dialog", lambda dialog: dialog.accept())
    await contact.get_by_role("button", name="Delete note").click()
    await expect(page.get_by_role("status")).to_contain_text("Note deleted")
    await expect(contact.get_by_text("No notes yet")).to_be_visible()
