"""Module frontends through Stellwerk: `/{module}/` is the primary instance's, every instance has
its own URL, behind the login; HTTP streams through, WebSockets too, and Stellwerk's
credentials never reach the module."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import SESSION_COOKIE
from stellwerk.module.frontend_router import OWN_SEGMENTS
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_staff, create_user, jwt_for
from tests.live import live_server
from tests.module.echo_module import echo_archive
from tests.module.factories import RepositoryDir, install, wait_operation


async def _instances(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> list[str]:
    listing = (await client.get(f"/modules/instances?module_name={name}", headers=headers)).json()
    return [i["instance_id"] for i in listing["modules"][0]["instances"]]


@pytest_asyncio.fixture
async def echo(
    client: httpx.AsyncClient,
    modules_headers: dict[str, str],
    test_repository: RepositoryDir,
) -> list[str]:
    """Two running instances of the echo module; the first is primary."""
    test_repository.add("echo", "1.0.0", echo_archive())
    for _ in range(2):
        _, final = await install(client, modules_headers, "echo")
        assert final["status"] == "completed", final
    return await _instances(client, modules_headers, "echo")


@pytest_asyncio.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


def test_own_segments_name_the_first_segment_of_every_route_of_stellwerks() -> None:
    app = create_app(Settings(_env_file=None, workers=False))  # type: ignore[call-arg]
    found = set()
    for route in iter_route_contexts(app.router.routes):
        path = route.path or ""
        first = path.lstrip("/").split("/", 1)[0]
        if first and not first.startswith("{"):
            found.add(first)
        else:
            assert not first or first == "{module_name:module}", path  # no other catch-all
    assert found == set(OWN_SEGMENTS)


class TestDemoFrontend:
    async def test_the_demo_page_follows_the_primary_instance(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        for _ in range(2):
            _, final = await install(client, modules_headers, "v2_dashboard")
            assert final["status"] == "completed", final
        first, second = await _instances(client, modules_headers, "v2_dashboard")
        root = runtime.settings.resolved_modules_root
        for instance_id in (first, second):  # a file that tells the instances apart
            (root / f"v2_dashboard_{instance_id}" / "www" / "who.txt").write_text(instance_id)

        page = await client.get("/v2_dashboard/", headers=modules_headers)
        assert page.status_code == 200, page.text
        assert page.headers["x-module-instance"] == first
        assert "<h1>V2 Dashboard</h1>" in page.text
        assert "content-security-policy" not in page.headers  # the module's page, not ours
        assert (await client.get("/v2_dashboard/who.txt", headers=modules_headers)).text == first
        own = await client.get(f"/v2_dashboard/{second}/who.txt", headers=modules_headers)
        assert own.text == second

        moved = await client.post(
            f"/modules/primary/v2_dashboard/{second}", headers=modules_headers
        )
        assert moved.status_code == 200
        assert moved.json()["frontend_url"] == "/v2_dashboard/"
        now = await client.get("/v2_dashboard/who.txt", headers=modules_headers)
        assert now.text == second
        assert now.headers["x-module-instance"] == second
        other = await client.get(f"/modules/instance/v2_dashboard/{first}", headers=modules_headers)
        assert other.json()["frontend_url"] == f"/v2_dashboard/{first}/"

        bare = await client.get("/v2_dashboard", headers=modules_headers)
        assert bare.status_code == 307
        assert bare.headers["location"] == "/v2_dashboard/"

    async def test_who_may_open_a_frontend(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        await install(client, modules_headers, "v2_dashboard")
        browser = await client.get("/v2_dashboard/", headers={"Accept": "text/html"})
        assert browser.status_code == 303
        assert browser.headers["location"] == "/login?next=/v2_dashboard/"
        assert (await client.get("/v2_dashboard/")).status_code == 401
        customer = bearer(jwt_for(runtime, await create_user(runtime)))
        refused = await client.get("/v2_dashboard/", headers=customer)
        assert refused.status_code == 403
        assert refused.json()["code"] == "missing_scope"
        staff = bearer(jwt_for(runtime, await create_staff(runtime)))
        assert (await client.get("/v2_dashboard/", headers=staff)).status_code == 200

        staff_user = await create_staff(runtime)
        async with runtime.database.session() as session:
            cookie, _ = await identity_service.web_session.create(
                session, staff_user, ip="127.0.0.1", expires_in=600
            )
        client.cookies.set(SESSION_COOKIE, cookie)
        try:
            assert (await client.get("/v2_dashboard/")).status_code == 200
        finally:
            client.cookies.clear()

    async def test_unknown_modules_and_stellwerks_own_paths(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        missing = await client.get("/no_such_module/", headers=modules_headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "module_not_found"
        # Stellwerk's own paths are never a module's: 405 and 404 stay what they were.
        assert (await client.post("/health", headers=modules_headers)).status_code == 405
        assert (await client.get("/api/nothing", headers=modules_headers)).status_code == 404
        assert (await client.get("/modules/nothing", headers=modules_headers)).status_code == 404


class TestProxy:
    async def test_requests_pass_without_stellwerks_credentials(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        echo: list[str],
        runtime: Runtime,
    ) -> None:
        first, second = echo
        echoed = await client.post(
            "/echo/api/things?x=1",
            content=b'{"a": 1}',
            headers={
                **modules_headers,
                "Content-Type": "application/json",
                "Cookie": f"{SESSION_COOKIE}=secret; module_pref=light",
                "X-Forwarded-User": "someone-else",
                "X-CSRF-Token": "abc",
            },
        )
        assert echoed.status_code == 200, echoed.text
        seen = echoed.json()
        assert seen["instance"] == first
        assert seen["method"] == "POST"
        assert seen["path"] == "/api/things?x=1"
        assert seen["body"] == '{"a": 1}'
        headers = seen["headers"]
        assert "authorization" not in headers
        assert "x-csrf-token" not in headers
        assert headers["cookie"] == "module_pref=light"
        assert headers["x-forwarded-prefix"] == "/echo"
        assert headers["x-forwarded-user"].startswith("admin")
        assert headers["x-forwarded-host"] == "testserver"

        own = await client.delete(f"/echo/{second}/item/7", headers=modules_headers)
        assert own.json()["instance"] == second
        assert own.json()["path"] == "/item/7"
        assert own.json()["headers"]["x-forwarded-prefix"] == f"/echo/{second}"

        redirected = await client.get("/echo/go", headers=modules_headers)
        assert redirected.status_code == 302
        assert redirected.headers["location"] == "/echo/landed"
        cookies = await client.get("/echo/cookies", headers=modules_headers)
        set_cookies = cookies.headers.get_list("set-cookie")
        assert set_cookies == ["module_pref=dark; Path=/"]  # never Stellwerk's session cookie

    async def test_answers_stream_and_sockets_pass_through(
        self, base_url: str, echo: list[str], runtime: Runtime
    ) -> None:
        first, second = echo
        token = jwt_for(runtime, await create_admin(runtime))
        async with httpx.AsyncClient(base_url=base_url, headers=bearer(token)) as http:
            started = time.monotonic()
            async with http.stream("GET", "/echo/stream") as response:
                chunks = response.aiter_text()
                assert (await anext(chunks)).startswith("first")
                assert time.monotonic() - started < 1.8  # before the module's answer ended
                assert "second" in "".join([c async for c in chunks])

        ws = base_url.replace("http://", "ws://")
        async with connect(
            f"{ws}/echo/{second}/socket?q=1",
            additional_headers=bearer(token),
            subprotocols=["chat"],
        ) as socket:  # type: ignore[list-item]
            assert socket.subprotocol == "chat"
            hello = json.loads(await socket.recv())
            assert hello["instance"] == second
            assert hello["path"] == "/socket?q=1"
            assert hello["user"].startswith("admin")
            await socket.send("hi")
            assert await asyncio.wait_for(socket.recv(), 5) == "echo: hi"

        with pytest.raises(InvalidStatus) as anonymous:
            async with connect(f"{ws}/echo/socket"):
                pass
        assert anonymous.value.response.status_code == 401
        staff = await create_staff(runtime)
        async with runtime.database.session() as session:
            cookie, _ = await identity_service.web_session.create(
                session, staff, ip="127.0.0.1", expires_in=600
            )
        with pytest.raises(InvalidStatus) as foreign:
            async with connect(
                f"{ws}/echo/socket",
                additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                origin="https://evil.example",  # type: ignore[arg-type]
            ):
                pass
        assert foreign.value.response.status_code == 403
        async with connect(
            f"{ws}/echo/socket",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            origin=base_url,  # type: ignore[arg-type]
        ) as socket:
            assert json.loads(await socket.recv())["instance"] == first

    async def test_a_stopped_instance_answers_503_and_a_session_posts_only_from_our_pages(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        echo: list[str],
        runtime: Runtime,
    ) -> None:
        first, second = echo
        stopped = await client.post(
            f"/modules/instance/echo/{second}/stop", headers=modules_headers
        )
        final = await wait_operation(client, modules_headers, stopped.json()["operation_id"])
        assert final["status"] == "completed", final
        down = await client.get(f"/echo/{second}/", headers=modules_headers)
        assert down.status_code == 503
        assert down.json()["code"] == "frontend_unavailable"

        staff = await create_staff(runtime)
        async with runtime.database.session() as session:
            cookie, _ = await identity_service.web_session.create(
                session, staff, ip="127.0.0.1", expires_in=600
            )
        client.cookies.set(SESSION_COOKIE, cookie)
        try:
            foreign = await client.post(
                "/echo/form", content=b"x=1", headers={"Origin": "https://evil.example"}
            )
            assert foreign.status_code == 403
            assert foreign.json()["code"] == "origin_refused"
            ours = await client.post(
                "/echo/form", content=b"x=1", headers={"Origin": "http://testserver"}
            )
            assert ours.status_code == 200, ours.text
            assert ours.json()["body"] == "x=1"
        finally:
            client.cookies.clear()
