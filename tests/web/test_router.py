from __future__ import annotations

import re

import httpx

from stellwerk.runtime import Runtime
from tests.factories import DEFAULT_PASSWORD, admin_headers, create_admin, create_user
from tests.operation.test_router import wait_for


def _login_csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the login form carries a CSRF token"
    return match.group(1)


async def log_in(client: httpx.AsyncClient, username: str) -> str:
    """Log in through the form like a browser; returns the page's CSRF token."""
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "username": username,
            "password": DEFAULT_PASSWORD,
            "csrf_token": _login_csrf(page.text),
        },
    )
    assert response.status_code == 303, response.text
    dashboard = await client.get(response.headers["location"])
    assert dashboard.status_code == 200
    return _login_csrf(dashboard.text)


class TestWebLogin:
    async def test_pages_need_a_login(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/ui/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/ui/"

    async def test_login_logout(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_admin(runtime, username="webadmin")
        csrf = await log_in(client, "webadmin")
        dashboard = await client.get("/ui/")
        assert "Dashboard" in dashboard.text
        assert dashboard.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in dashboard.headers["content-security-policy"]
        me = await client.get("/api/auth/me")
        assert me.json()["credential"] == "session"
        out = await client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert (await client.get("/ui/")).status_code == 303

    async def test_login_form_without_csrf_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="nocsrf")
        response = await client.post(
            "/login", data={"username": "nocsrf", "password": DEFAULT_PASSWORD, "csrf_token": "x"}
        )
        assert response.status_code == 400
        assert "stellwerk_session" not in response.headers.get("set-cookie", "")

    async def test_unsafe_requests_with_the_cookie_need_the_csrf_token(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="csrfadmin")
        csrf = await log_in(client, "csrfadmin")
        body = {"name": "t", "scopes": ["read:domains"]}
        refused = await client.post("/api/tokens", json=body)
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_failed"
        accepted = await client.post("/api/tokens", json=body, headers={"X-CSRF-Token": csrf})
        assert accepted.status_code == 201
        assert (await client.post("/logout", data={"csrf_token": "wrong"})).status_code == 403

    async def test_wrong_password_shows_the_form_again(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="typo")
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "username": "typo",
                "password": "wrong-wrong",
                "csrf_token": _login_csrf(page.text),
            },
        )
        assert response.status_code == 401
        assert "Invalid username or password" in response.text

    async def test_next_never_leaves_the_site(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="nexter")
        page = await client.get("/login?next=//evil.example/x")
        response = await client.post(
            "/login",
            data={
                "username": "nexter",
                "password": DEFAULT_PASSWORD,
                "csrf_token": _login_csrf(page.text),
                "next": "https://evil.example/",
            },
        )
        assert response.headers["location"] == "/ui/"

    async def test_browsers_at_the_root_go_to_the_ui(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/", headers={"accept": "text/html"})
        assert response.status_code == 307
        assert response.headers["location"] == "/ui/"


class TestErrorPages:
    async def test_a_non_admin_gets_a_403_page(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="plainuser")
        await log_in(client, "plainuser")
        response = await client.get("/ui/users")
        assert response.status_code == 403
        assert "This page is for admins" in response.text
        assert "plainuser" in response.text  # the layout still knows who is logged in

    async def test_a_missing_page_is_a_404_page(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="seeker")
        await log_in(client, "seeker")
        response = await client.get("/ui/operations/00000000-0000-0000-0000-000000000001")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


class TestOperationPages:
    async def test_the_list_charts_how_long_each_kind_takes(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        started = await client.post(
            "/api/operations/probe", json={"steps": 2, "seconds": 0}, headers=headers
        )
        await wait_for(client, started.json()["id"], headers)
        client.headers.pop("Authorization", None)
        await create_admin(runtime, username="opsadmin")
        await log_in(client, "opsadmin")
        page = await client.get("/ui/operations")
        assert page.status_code == 200
        assert "Median duration of completed operations, last 30 days" in page.text
        assert "probe (1×)" in page.text
        assert "<th>seconds</th>" in page.text  # the accessible table beside the chart
