"""Licensing and servers pages through the ASGI client: forms, CSRF and who sees what."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from stellwerk.runtime import Runtime
from stellwerk.web.charts import bar_list, daily_bars, fill_days
from tests.factories import create_admin, create_user
from tests.web.test_router import log_in

ADMIN_PAGES = [
    "/ui/licenses",
    "/ui/licenses/new",
    "/ui/customers",
    "/ui/resources",
    "/ui/releases",
    "/ui/client-configs",
    "/ui/providers",
    "/ui/plans",
]


async def _customer(client: httpx.AsyncClient, csrf: str, name: str) -> int:
    response = await client.post(
        "/ui/customers", data={"name": name, "email": "it@example.com", "csrf_token": csrf}
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def _license(client: httpx.AsyncClient, csrf: str, customer_id: int, **extra: str) -> int:
    form = {
        "customer_id": str(customer_id),
        "license_type": "perpetual",
        "max_activations": "2",
        "max_users": "1",
        "is_active": "on",
        "csrf_token": csrf,
        **extra,
    }
    response = await client.post("/ui/licenses", data=form)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


class TestAccess:
    async def test_admin_pages_need_a_login(self, client: httpx.AsyncClient) -> None:
        for path in [*ADMIN_PAGES, "/ui/servers", "/ui/servers/new"]:
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")

    async def test_a_non_admin_sees_no_admin_pages(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="plainpages")
        await log_in(client, "plainpages")
        for path in ADMIN_PAGES:
            response = await client.get(path)
            assert response.status_code == 403, path
        servers = await client.get("/ui/servers")
        assert servers.status_code == 200
        for path in ADMIN_PAGES:
            assert f'href="{path}"' not in servers.text, path
        assert 'href="/ui/servers"' in servers.text

    async def test_every_admin_page_renders(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="pagesadmin")
        await log_in(client, "pagesadmin")
        for path in [*ADMIN_PAGES, "/ui/servers", "/ui/servers/new"]:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
            assert f'href="{path}"' in response.text or path.endswith("/new")

    async def test_forms_without_the_csrf_token_are_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="csrfpages")
        csrf = await log_in(client, "csrfpages")
        customer_id = await _customer(client, csrf, "Csrf GmbH")
        license_id = await _license(client, csrf, customer_id)
        for path, form in [
            ("/ui/customers", {"name": "Nope"}),
            (f"/ui/licenses/{license_id}/toggle", {}),
            ("/ui/licenses/bulk", {"action": "delete", "ids": str(license_id)}),
            ("/ui/providers", {"name": "x", "type": "linode", "api_key": "k"}),
        ]:
            refused = await client.post(path, data={**form, "csrf_token": "wrong"})
            assert refused.status_code == 403, path
            assert (await client.post(path, data=form)).status_code == 403, path
        page = await client.get(f"/ui/licenses/{license_id}")
        assert page.status_code == 200  # neither the toggle nor the delete happened
        assert "status active" in page.text


class TestLicensePages:
    async def test_create_toggle_quick_edit_and_bulk(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="licpages")
        csrf = await log_in(client, "licpages")
        new = await client.get("/ui/licenses/new")
        key = re.search(r'name="license_key" value="([A-Z0-9-]{19})"', new.text)
        assert key, "the form comes with a generated key"
        customer_id = await _customer(client, csrf, "Pages AG")
        license_id = await _license(client, csrf, customer_id, license_key=key.group(1))
        detail = await client.get(f"/ui/licenses/{license_id}")
        assert key.group(1) in detail.text
        assert "Pages AG" in detail.text
        assert "Activations, last 30 days" in detail.text
        assert "<svg" in detail.text

        toggled = await client.post(f"/ui/licenses/{license_id}/toggle", data={"csrf_token": csrf})
        assert toggled.status_code == 303
        inactive = await client.get("/ui/licenses?active=false")
        assert key.group(1) in inactive.text

        until = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        edited = await client.post(
            f"/ui/licenses/{license_id}/quick-edit",
            data={
                "valid_until": until,
                "max_activations": "7",
                "max_users": "3",
                "csrf_token": csrf,
            },
        )
        assert edited.status_code == 303
        expiring = await client.get("/ui/licenses?expiring=30")
        assert key.group(1) in expiring.text
        assert "7" in (await client.get(f"/ui/licenses/{license_id}")).text

        other = await _license(client, csrf, customer_id)
        bulk = await client.post(
            "/ui/licenses/bulk",
            data={"action": "activate", "ids": [str(license_id), str(other)], "csrf_token": csrf},
        )
        assert bulk.status_code == 303
        assert (await client.get("/ui/licenses?active=false")).text.count("<code>") == 0
        deleted = await client.post(
            "/ui/licenses/bulk", data={"action": "delete", "ids": [str(other)], "csrf_token": csrf}
        )
        assert deleted.status_code == 303
        assert (await client.get(f"/ui/licenses/{other}")).status_code == 404

    async def test_form_errors_sit_next_to_their_fields(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="errpages")
        csrf = await log_in(client, "errpages")
        response = await client.post(
            "/ui/licenses",
            data={
                "customer_id": "",
                "license_type": "perpetual",
                "max_activations": "1",
                "max_users": "1",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 422
        assert 'id="customer_id-error"' in response.text
        customer = await client.post("/ui/customers", data={"name": "", "csrf_token": csrf})
        assert customer.status_code == 422
        assert 'id="name-error"' in customer.text

    async def test_customer_search_fragment(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="searchpages")
        csrf = await log_in(client, "searchpages")
        await _customer(client, csrf, "Zeppelin Werke")
        await _customer(client, csrf, "Other Firm")
        fragment = await client.get("/ui/customers/search", params={"q": "zepp"})
        assert fragment.status_code == 200
        assert "Zeppelin Werke" in fragment.text
        assert "Other Firm" not in fragment.text
        assert "<html" not in fragment.text

    async def test_resources_releases_and_client_configs(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_admin(runtime, username="poolpages")
        csrf = await log_in(client, "poolpages")
        customer_id = await _customer(client, csrf, "Pool GmbH")
        license_id = await _license(client, csrf, customer_id)
        added = await client.post(
            "/ui/resources",
            data={"resource_type": "server", "identifier": "10.0.0.9", "csrf_token": csrf},
        )
        assert added.status_code == 303
        pool = await client.get("/ui/resources?status=available")
        resource_id = re.search(r"/ui/resources/(\d+)/allocate", pool.text)
        assert resource_id
        allocated = await client.post(
            f"/ui/resources/{resource_id.group(1)}/allocate",
            data={"license": str(license_id), "csrf_token": csrf},
        )
        assert allocated.status_code == 303
        assert "10.0.0.9" in (await client.get(f"/ui/licenses/{license_id}")).text
        released = await client.post(
            f"/ui/resources/{resource_id.group(1)}/release", data={"csrf_token": csrf}
        )
        assert released.status_code == 303

        published = await client.post(
            "/ui/releases", data={"version": "2.1.0", "channel": "stable", "csrf_token": csrf}
        )
        assert published.status_code == 303
        again = await client.post(
            "/ui/releases", data={"version": "2.1.0", "channel": "stable", "csrf_token": csrf}
        )
        assert again.status_code == 422
        assert 'id="version-error"' in again.text

        created = await client.post(
            "/api/client-configs",
            json={"name": "Pages Client"},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
        configs = await client.get("/ui/client-configs")
        config_id = re.search(r'action="/ui/client-configs/(\d+)"', configs.text)
        assert config_id
        saved = await client.post(
            f"/ui/client-configs/{config_id.group(1)}",
            data={"heartbeat_interval": "20", "session_timeout": "60", "csrf_token": csrf},
        )
        assert saved.status_code == 303
        page = await client.get("/ui/client-configs")
        assert 'value="20"' in page.text
        assert 'value="60"' in page.text


class TestCharts:
    def test_zero_days_are_filled(self) -> None:
        start = dt.date(2026, 1, 30)
        days = fill_days({dt.date(2026, 2, 1): 3}, start=start, end=dt.date(2026, 2, 2))
        assert days == [
            (dt.date(2026, 1, 30), 0),
            (dt.date(2026, 1, 31), 0),
            (dt.date(2026, 2, 1), 3),
            (dt.date(2026, 2, 2), 0),
        ]

    def test_svg_and_table_carry_the_same_numbers(self) -> None:
        chart = str(
            daily_bars(
                {dt.date(2026, 1, 2): 5},
                start=dt.date(2026, 1, 1),
                end=dt.date(2026, 1, 3),
                title="Hits <b>",
            )
        )
        assert chart.count('<rect class="bar"') == 3
        assert "<td>2026-01-02</td><td>5</td>" in chart
        assert "Hits &lt;b&gt;" in chart
        assert "<b>" not in chart

    def test_bar_list_escapes_labels(self) -> None:
        chart = str(bar_list([("<script>", 4), ("b", 2)], title="Top"))
        assert "<script>" not in chart
        assert "&lt;script&gt;" in chart
        assert 'width="100.0"' in chart
        assert 'width="50.0"' in chart


@pytest.mark.parametrize("path", ["/ui/servers/00000000-0000-0000-0000-000000000001"])
async def test_someone_elses_server_is_missing(
    path: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_user(runtime, username="nosuchserver")
    await log_in(client, "nosuchserver")
    assert (await client.get(path)).status_code == 404


async def test_flash_messages_carry_any_name(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await create_admin(runtime, username="flashpages")
    csrf = await log_in(client, "flashpages")
    created = await client.post("/ui/customers", data={"name": "Łódź Ltd …", "csrf_token": csrf})
    assert created.status_code == 303
    page = await client.get(created.headers["location"])
    assert "Created customer Łódź Ltd …" in page.text
