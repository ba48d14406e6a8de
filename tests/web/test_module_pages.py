"""Module manager pages through the ASGI client, on a file repository and the process runtime."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from stellwerk.module.service import module_repository
from stellwerk.module.sources import index_cache
from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.module.conftest import _stop_everything
from tests.module.factories import RepositoryDir, archive_bytes, manifest
from tests.web.test_router import log_in

OPERATION = re.compile(r"/ui/modules/operations/([0-9a-f-]{36})")


@pytest_asyncio.fixture(autouse=True)
async def _modules_state(runtime: Runtime) -> AsyncIterator[None]:
    async with runtime.database.session() as session:
        await module_repository.ensure_builtin(session)
    yield
    await _stop_everything(runtime)
    index_cache._entries.clear()


def _release(name: str, version: str) -> bytes:
    return archive_bytes(manifest(name, version, category="tools"), {"VERSION": version.encode()})


async def _finished(client: httpx.AsyncClient, started: httpx.Response) -> str:
    """Follow an operation's page the way the browser polls it, until it is final."""
    assert started.status_code == 303, started.text
    match = OPERATION.fullmatch(started.headers["location"])
    assert match, started.headers["location"]
    page = await client.get(started.headers["location"])
    # The page follows the module feed, and fetches its live part on each change.
    assert f'data-module-feed="/ui/modules/operations/{match.group(1)}/progress"' in page.text
    assert f'data-operation="{match.group(1)}"' in page.text
    deadline = time.monotonic() + 90
    html = ""
    while time.monotonic() < deadline:
        html = (await client.get(f"{started.headers['location']}/progress")).text
        if 'data-final="true"' in html:
            return html
        await asyncio.sleep(0.2)
    raise AssertionError(f"the operation did not finish: {html}")


def _instance_ids(html: str) -> list[str]:
    return re.findall(r'data-instance="([0-9a-f]{32})"', html)


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    for path in ("/ui/modules", "/ui/modules/available", "/ui/modules/repositories"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


async def test_repositories_install_primary_update_delete(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    repository = RepositoryDir(tmp_path / "repo")
    repository.add("web_tool", "1.0.0", _release("web_tool", "1.0.0"), category="tools")
    await create_admin(runtime, username="modadmin")
    csrf = await log_in(client, "modadmin")

    listing = await client.get("/ui/modules/repositories")
    assert 'data-repository="local-module-repository"' in listing.text
    fields = {"id": "team", "name": "Team modules", "type": "file", "url": str(repository.root)}
    refused = await client.post("/ui/modules/repositories", data=fields)
    assert refused.status_code == 403
    bad = await client.post(
        "/ui/modules/repositories", data={**fields, "id": "Bad Id", "csrf_token": csrf}
    )
    assert bad.status_code == 422
    assert 'id="id-error"' in bad.text
    relative = await client.post(
        "/ui/modules/repositories", data={**fields, "url": "repo", "csrf_token": csrf}
    )
    assert 'id="url-error"' in relative.text
    added = await client.post(
        "/ui/modules/repositories",
        data={**fields, "priority": "10", "enabled": "on", "csrf_token": csrf},
    )
    assert added.status_code == 303, added.text
    listing = await client.get("/ui/modules/repositories")
    assert "Added the repository Team modules" in listing.text
    assert re.search(r'data-repository="team">.*?1 \(0 installed\)', listing.text, re.S)

    edit = await client.get("/ui/modules/repositories/team")
    assert str(repository.root) in edit.text
    wrong = await client.post(
        "/ui/modules/repositories/team",
        data={"name": "Team modules", "url": str(repository.root), "priority": "x"}
        | {"csrf_token": csrf},
    )
    assert wrong.status_code == 422
    assert 'id="priority-error"' in wrong.text

    available = await client.get("/ui/modules/available?category=tools&installed=no")
    assert 'data-module="web_tool"' in available.text
    assert 'data-module="v2_dashboard"' not in available.text
    nothing = await client.get("/ui/modules/available?search=no-such-module")
    assert "No module matches these filters" in nothing.text

    for _ in range(2):
        install = {"module_name": "web_tool", "repository_id": "team", "version": "1.0.0"}
        done = await _finished(
            client, await client.post("/ui/modules/install", data={**install, "csrf_token": csrf})
        )
        assert 'class="status completed"' in done, done
        assert "100 %" in done
    page = (await client.get("/ui/modules")).text
    first, second = _instance_ids(page)
    assert page.count('class="status running"') == 2
    assert page.count("primary</span>") == 1
    assert "Update to" not in page
    installed = await client.get("/ui/modules/available?installed=yes")
    assert "2 instances (1.0.0)" in installed.text

    made = await client.post(
        f"/ui/modules/instances/web_tool/{second}/primary", data={"csrf_token": csrf}
    )
    assert made.status_code == 303
    page = (await client.get("/ui/modules")).text
    assert f"Instance {second[:8]} is the primary web_tool" in page
    row = page[page.index(f'data-instance="{second}"') :]
    assert row.index("primary</span>") < row.index("</tr>")

    # A new version shows up once the index is read again; updating one instance moves it.
    repository.add("web_tool", "1.1.0", _release("web_tool", "1.1.0"), category="tools")
    await client.post("/ui/modules/repositories/team/refresh", data={"csrf_token": csrf})
    assert "Update to 1.1.0" in (await client.get("/ui/modules")).text
    done = await _finished(
        client,
        await client.post(
            f"/ui/modules/instances/web_tool/{first}/update", data={"csrf_token": csrf}
        ),
    )
    assert 'class="status completed"' in done, done
    page = (await client.get("/ui/modules")).text
    assert page.count("Update to 1.1.0") == 1

    done = await _finished(
        client,
        await client.post(
            f"/ui/modules/instances/web_tool/{second}/delete", data={"csrf_token": csrf}
        ),
    )
    assert 'class="status completed"' in done, done
    assert _instance_ids((await client.get("/ui/modules")).text) == [first]

    deleted = await client.post("/ui/modules/repositories/team/delete", data={"csrf_token": csrf})
    assert (
        "Deleted the repository Team modules"
        in (await client.get(deleted.headers["location"])).text
    )
    builtin = await client.post(
        "/ui/modules/repositories/local-module-repository/delete", data={"csrf_token": csrf}
    )
    assert "cannot be deleted" in (await client.get(builtin.headers["location"])).text


async def test_repositories_and_pins_are_for_admins(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    await create_user(runtime, username="moduser", role="staff")
    csrf = await log_in(client, "moduser")
    listing = await client.get("/ui/modules/repositories")
    assert "only admins add or change repositories" in listing.text
    assert 'name="allow_private"' not in listing.text
    fields = {"id": "mine", "name": "Mine", "type": "https", "url": "https://x.example/"}
    refused = await client.post("/ui/modules/repositories", data={**fields, "csrf_token": csrf})
    assert refused.status_code == 403
    for path in (
        "/ui/modules/repositories/local-module-repository",
        "/ui/modules/repositories/local-module-repository/delete",
        "/ui/modules/repositories/local-module-repository/pins/v2_dashboard/0.1.0/clear",
    ):
        response = await client.post(path, data={"name": "x", "csrf_token": csrf})
        assert response.status_code == 403, path
    details = await client.get("/ui/modules/repositories/local-module-repository")
    assert "Only admins change repositories" in details.text


async def test_private_addresses_and_pins_in_the_browser(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_admin(runtime, username="pinadmin")
    csrf = await log_in(client, "pinadmin")
    fields = {
        "id": "lan",
        "name": "LAN modules",
        "type": "https",
        "url": "http://127.0.0.1:18777/index.json",
        "allow_http": "on",
        "priority": "10",
        "enabled": "on",
        "csrf_token": csrf,
    }
    refused = await client.post("/ui/modules/repositories", data=fields)
    assert refused.status_code == 422
    assert re.search(r'id="url-error">[^<]*loopback[^<]*allow_private', refused.text)
    added = await client.post("/ui/modules/repositories", data={**fields, "allow_private": "on"})
    assert added.status_code == 303, added.text
    listing = await client.get("/ui/modules/repositories")
    assert "private addresses allowed" in listing.text
    edit = await client.get("/ui/modules/repositories/lan")
    assert re.search(r'name="allow_private" checked', edit.text)

    done = await _finished(
        client,
        await client.post(
            "/ui/modules/install",
            data={
                "module_name": "v2_dashboard",
                "repository_id": "local-module-repository",
                "csrf_token": csrf,
            },
        ),
    )
    assert 'class="status completed"' in done, done
    builtin = await client.get("/ui/modules/repositories/local-module-repository")
    assert 'data-pin="v2_dashboard/0.1.0"' in builtin.text
    cleared = await client.post(
        "/ui/modules/repositories/local-module-repository/pins/v2_dashboard/0.1.0/clear",
        data={"csrf_token": csrf},
    )
    assert cleared.status_code == 303
    page = await client.get(cleared.headers["location"])
    assert "Cleared the pin of v2_dashboard 0.1.0" in page.text
    assert 'data-pin="v2_dashboard/0.1.0"' not in page.text


async def test_update_available_questions_and_stop_start_in_the_browser(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    repository = RepositoryDir(tmp_path / "repo")
    repository.add("web_tool", "1.0.0", _release("web_tool", "1.0.0"), category="tools")
    await create_admin(runtime, username="modadmin2")
    csrf = await log_in(client, "modadmin2")
    fields = {"id": "team", "name": "Team", "type": "file", "url": str(repository.root)}
    added = await client.post(
        "/ui/modules/repositories",
        data={**fields, "priority": "10", "enabled": "on", "csrf_token": csrf},
    )
    assert added.status_code == 303, added.text
    install = {"module_name": "web_tool", "repository_id": "team", "csrf_token": csrf}
    await _finished(client, await client.post("/ui/modules/install", data=install))
    page = (await client.get("/ui/modules")).text
    (instance_id,) = _instance_ids(page)
    assert 'data-module-feed="/ui/modules/live"' in page
    assert "/static/module-feed.js" in page
    assert "update available" not in page
    assert 'href="/web_tool/"' in page  # its frontend through Stellwerk

    # A major version: the page says so, and the update stops with a question.
    repository.add("web_tool", "2.0.0", _release("web_tool", "2.0.0"), category="tools")
    checked = await client.post("/ui/modules/check-updates", data={"csrf_token": csrf})
    page = (await client.get(checked.headers["location"])).text
    assert "Updates available: web_tool 2.0.0." in page
    assert "update available: 2.0.0" in page
    assert "Update all to 2.0.0 (major)" in page
    started = await client.post(
        "/ui/modules/instances/web_tool/update",
        data={"repository_id": "team", "version": "2.0.0", "csrf_token": csrf},
    )
    assert started.status_code == 303
    location = started.headers["location"]
    html = ""
    for _ in range(300):
        html = (await client.get(f"{location}/progress")).text
        if "Waiting for your answer" in html:
            break
        await asyncio.sleep(0.1)
    assert "crosses a major version" in html
    assert 'name="answer" value="continue"' in html
    answered = await client.post(
        f"{location}/answer",
        data={"prompt_id": "major_update", "answer": "continue", "csrf_token": csrf},
    )
    assert answered.status_code == 303
    done = ""
    for _ in range(600):
        done = (await client.get(f"{location}/progress")).text
        if 'data-final="true"' in done:
            break
        await asyncio.sleep(0.1)
    assert 'class="status completed"' in done, done
    assert "Answered by modadmin2: Update to 2.0.0" in done

    # Stop and start: the instance's status follows.
    stopped = await _finished(
        client,
        await client.post(
            f"/ui/modules/instances/web_tool/{instance_id}/stop", data={"csrf_token": csrf}
        ),
    )
    assert 'class="status completed"' in stopped
    page = (await client.get("/ui/modules")).text
    assert 'class="status stopped"' in page
    assert f"/ui/modules/instances/web_tool/{instance_id}/start" in page
    started_again = await _finished(
        client,
        await client.post(
            f"/ui/modules/instances/web_tool/{instance_id}/start", data={"csrf_token": csrf}
        ),
    )
    assert 'class="status completed"' in started_again
    page = (await client.get("/ui/modules")).text
    assert 'class="status running"' in page
    assert f"/ui/modules/instances/web_tool/{instance_id}/restart" in page
