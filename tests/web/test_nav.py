"""The navigation: grouped by area, each entry shown to those who may open it, and every
entry shown opens."""

from __future__ import annotations

import re

import httpx
import pytest

from stellwerk.identity.role import Role
from stellwerk.runtime import Runtime
from stellwerk.web import nav
from tests.factories import create_user
from tests.web.test_router import log_in


def _sidenav(page: str) -> str:
    match = re.search(r'<nav id="sidenav".*?</nav>', page, re.S)
    assert match, "every page has the navigation"
    return match.group(0)


@pytest.mark.parametrize("role", list(Role))
async def test_every_entry_a_role_sees_opens(
    client: httpx.AsyncClient, runtime: Runtime, role: Role
) -> None:
    user = await create_user(runtime, role=role.value)
    await log_in(client, user.username)
    menu = _sidenav((await client.get("/ui/")).text)
    links = re.findall(r'<a href="([^"]+)"', menu)
    assert links, menu
    for link in links:
        response = await client.get(link)
        assert response.status_code == 200, f"{role}: {link} answered {response.status_code}"
    groups = re.findall(r'<h2 class="nav-group"[^>]*>([^<]+)</h2>', menu)
    if role is Role.CUSTOMER:
        assert groups == ["Hosting", "Redirects", "Account"]
        assert "/ui/licenses" not in links
        assert "/ui/modules" not in links
    elif role is Role.STAFF:
        assert groups == ["Hosting", "Redirects", "Licensing", "Account"]
    else:
        assert groups == ["Hosting", "Redirects", "Licensing", "Admin"]
        assert len(links) == len(nav.items())


def test_the_current_entry_is_the_closest() -> None:
    def current(path: str) -> str | None:
        found = nav.current(path)
        return found.label if found else None

    assert current("/ui/") == "Dashboard"
    assert current("/ui/servers/abc") == "Servers"
    assert current("/ui/redirects/summary") == "Hits"
    assert current("/ui/redirects/7") == "Redirects"
    assert current("/ui/dnsx") is None
    assert current("/leads/edit/3") == "Leads"
    assert current("/ui/search") is None


async def test_pages_carry_the_favicon_and_the_menu_button(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await create_user(runtime)
    await log_in(client, user.username)
    page = (await client.get("/ui/")).text
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    assert 'aria-controls="sidenav" aria-expanded="false"' in page
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
