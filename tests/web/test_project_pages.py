"""Project pages through the ASGI client, provisioning against the INWX and Coolify sandboxes."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.provider.running import Sandboxes, provider_sandboxes
from tests.web.test_router import log_in


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandboxes]:
    monkeypatch.setattr(runtime.settings, "project_poll_seconds", 0.2)
    monkeypatch.setattr(runtime.settings, "project_health_timeout_seconds", 5.0)
    monkeypatch.setattr(runtime.settings, "project_deploy_timeout_seconds", 60.0)
    async with provider_sandboxes() as running:
        yield running


@pytest_asyncio.fixture
async def other_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: its own cookies."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _settled(client: httpx.AsyncClient, project_id: int, timeout: float = 60) -> str:
    """Poll the page's live part as the browser does, until it says it is final."""
    deadline = time.monotonic() + timeout
    html = ""
    while time.monotonic() < deadline:
        response = await client.get(f"/ui/projects/{project_id}/status")
        assert response.status_code == 200, response.text
        html = response.text
        if 'data-final="true"' in html:
            return html
        await asyncio.sleep(0.2)
    raise AssertionError(f"project {project_id} did not settle: {html}")


async def _create(client: httpx.AsyncClient, csrf: str, **fields: str) -> httpx.Response:
    return await client.post("/ui/projects", data={"csrf_token": csrf, **fields})


def _project_id(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/ui/projects/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    for path in ("/ui/projects", "/ui/projects/new", "/ui/projects/1"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


async def test_create_watch_and_archive(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: Sandboxes,
) -> None:
    await create_admin(runtime, username="projadmin")
    csrf = await log_in(client, "projadmin")
    empty = await client.get("/ui/projects")
    assert "No projects yet" in empty.text
    form = await client.get("/ui/projects/new")
    assert form.status_code == 200
    assert "hetzner-1" in form.text  # Coolify's servers, from the sandbox

    refused = await client.post("/ui/projects", data={"name": "demo", "domain": "demo-shop.de"})
    assert refused.status_code == 403
    bad_name = await _create(client, csrf, name="Not A Name", domain="demo-shop.de")
    assert bad_name.status_code == 422
    assert 'id="name-error"' in bad_name.text
    assert 'value="demo-shop.de"' in bad_name.text  # what was typed stays
    bad_domain = await _create(client, csrf, name="demo", domain="no domain")
    assert 'id="domain-error"' in bad_domain.text
    bad_plugin = await _create(client, csrf, name="demo", domain="demo-shop.de", plugins="ok, n@pe")
    assert 'id="plugins-error"' in bad_plugin.text

    created = await _create(
        client, csrf, name="demo", domain="demo-shop.de", plugins="core, crm", register_domain="on"
    )
    project_id = _project_id(created)
    page = await client.get(f"/ui/projects/{project_id}")
    assert "Provisioning demo." in page.text  # the flash message
    assert f'data-poll="/ui/projects/{project_id}/status"' in page.text
    final = await _settled(client, project_id)
    assert "100 %" in final
    assert 'class="status active"' in final
    assert 'href="https://demo-shop.de"' in final
    (coolify_app,) = sandboxes.coolify_state["applications"].values()
    assert coolify_app["uuid"] in final
    assert "203.0.113.10" in final  # the A records
    assert "Archive" in final

    listed = await client.get("/ui/projects?state=active")
    assert f'href="/ui/projects/{project_id}"' in listed.text
    assert "data-poll" not in listed.text  # nothing left to watch
    none_provisioning = await client.get("/ui/projects?state=provisioning")
    assert "No projects are provisioning" in none_provisioning.text
    taken = await _create(client, csrf, name="demo", domain="other-shop.de")
    assert taken.status_code == 422
    assert re.search(r'id="name-error">[^<]*exists', taken.text)

    # Someone else sees neither the project nor its page, but has the pages.
    await create_user(runtime, username="projuser")
    other_csrf = await log_in(other_client, "projuser")
    # Buying the domain with a project is for admins: no checkbox, and a POST is refused.
    their_form = await other_client.get("/ui/projects/new")
    assert 'name="register_domain"' not in their_form.text
    assert "Only admins may register or transfer domains" in html.unescape(their_form.text)
    buying = await other_client.post(
        "/ui/projects",
        data={
            "name": "buy",
            "domain": "buy-shop.de",
            "register_domain": "on",
            "csrf_token": other_csrf,
        },
    )
    assert buying.status_code == 403
    assert "Only admins may register or transfer domains" in html.unescape(buying.text)
    assert "buy-shop.de" not in sandboxes.inwx_state["domains"]
    theirs = await other_client.get("/ui/projects")
    assert theirs.status_code == 200
    assert 'href="/ui/projects"' in theirs.text
    assert 'href="/ui/modules"' not in theirs.text  # the module manager is the company's
    assert "demo-shop.de" not in theirs.text
    assert (await other_client.get(f"/ui/projects/{project_id}")).status_code == 404

    archived = await client.post(
        f"/ui/projects/{project_id}/action", data={"action": "archive", "csrf_token": csrf}
    )
    assert archived.status_code == 303
    after = await client.get(archived.headers["location"])
    assert "demo is archived" in after.text
    assert sandboxes.coolify_state["applications"] == {}


async def test_a_failed_step_is_shown_and_retried(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    await create_admin(runtime, username="retryadmin")
    csrf = await log_in(client, "retryadmin")
    await sandboxes.deployments(fail=1)
    created = await _create(
        client, csrf, name="failing", domain="failing-shop.de", register_domain="on"
    )
    project_id = _project_id(created)
    failed = await _settled(client, project_id)
    assert 'class="status error"' in failed
    assert re.search(r'class="error-step">deploy<', failed)
    assert 'class="step failed"' in failed
    assert "Deployment failed. Removing the new version of your application." in failed
    assert 'value="retry"' in failed

    not_allowed = await client.post(
        f"/ui/projects/{project_id}/action", data={"action": "resume", "csrf_token": csrf}
    )
    assert "Resume failed" in (await client.get(not_allowed.headers["location"])).text
    retried = await client.post(
        f"/ui/projects/{project_id}/action", data={"action": "retry", "csrf_token": csrf}
    )
    assert retried.status_code == 303
    assert "again from the failed step" in (await client.get(retried.headers["location"])).text
    final = await _settled(client, project_id)
    assert 'class="status active"' in final
    assert "100 %" in final
    assert "error-step" not in final


async def test_the_project_page_runs_its_life(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
) -> None:
    await create_admin(runtime, username="lifeadmin")
    csrf = await log_in(client, "lifeadmin")
    project_id = _project_id(
        await _create(client, csrf, name="paged", domain="paged-shop.de", plugins="core")
    )
    page = await _settled(client, project_id)
    for marker in ('value="restart"', 'value="stop"', 'value="redeploy"', 'name="delete_zone"'):
        assert marker in page, marker
    assert 'action="/ui/projects/' + str(project_id) + '/edit"' in page

    async def act(path: str, **data: str) -> str:
        response = await client.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == 303, response.text
        return (await client.get(response.headers["location"])).text

    edited = await act(
        f"/ui/projects/{project_id}/edit",
        plugins="core,crm",
        domains="shop",
        env="MODE=quiet-value\n",
    )
    assert "Applying the changes to paged" in edited
    page = await _settled(client, project_id)
    assert "Applying changes" in page
    assert "shop.paged-shop.de" in page
    assert "MODE" in page
    assert "quiet-value" not in page
    stopped = await act(f"/ui/projects/{project_id}/action", action="stop")
    assert "Stopping paged" in stopped
    page = await _settled(client, project_id)
    assert 'class="status stopped"' in page
    assert 'value="start"' in page
    await act(f"/ui/projects/{project_id}/action", action="start")
    page = await _settled(client, project_id)
    assert 'class="status active"' in page
    deleting = await client.post(
        f"/ui/projects/{project_id}/action",
        data={"csrf_token": csrf, "action": "delete", "delete_zone": "on"},
    )
    assert deleting.status_code == 303
    assert deleting.headers["location"].startswith("/ui/operations/")
    deadline = time.monotonic() + 60
    while (await client.get(f"/ui/projects/{project_id}")).status_code != 404:
        assert time.monotonic() < deadline, "the project was not deleted"
        await asyncio.sleep(0.2)
    assert sandboxes.coolify_state["applications"] == {}
    assert "paged-shop.de" not in sandboxes.inwx_state["zones"]
