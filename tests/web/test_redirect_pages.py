"""Redirect pages through the ASGI client: ownership, forms, DNS verification and charts."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.redirect.conftest import PowerDns, powerdns  # noqa: F401 - the fixture
from tests.redirect.factories import create_domain, hit_row, unique_domain, write_hits
from tests.web.test_router import log_in

PUBLIC_IP = "127.0.0.1"
DAY_MS = 86_400_000
PAGES = [
    "/ui/redirects",
    "/ui/redirects/new",
    "/ui/redirects/summary",
    "/ui/redirects/groups",
    "/ui/redirects/import",
]


@pytest.fixture
def public_ip(runtime: Runtime) -> Iterator[None]:
    """Stellwerk answers on 127.0.0.1, so the pages have DNS records to show."""
    settings = runtime.settings
    before = (settings.public_ipv4, settings.public_ipv6, settings.dns_resolvers)
    settings.public_ipv4, settings.public_ipv6 = PUBLIC_IP, None
    yield
    settings.public_ipv4, settings.public_ipv6, settings.dns_resolvers = before


def _flash(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def _create(client: httpx.AsyncClient, csrf: str, domain: str, **extra: str) -> int:
    form = {
        "domain": domain,
        "target_url": "https://www.firma.example",
        "redirect_code": "301",
        "preserve_path": "on",
        "include_www": "on",
        "csrf_token": csrf,
        **extra,
    }
    response = await client.post("/ui/redirects", data=form)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


class TestAccess:
    async def test_pages_need_a_login(self, client: httpx.AsyncClient) -> None:
        for path in [*PAGES, "/ui/redirects/1"]:
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next={path}"

    async def test_people_see_only_their_own_domains(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        other = await create_user(runtime, username="otherowner")
        theirs = await create_domain(runtime, other, domain="theirs.example")
        await create_user(runtime, username="ownpages")
        csrf = await log_in(client, "ownpages")
        mine = await _create(client, csrf, "mine.example")
        listing = await client.get("/ui/redirects")
        assert listing.status_code == 200
        assert "mine.example" in listing.text
        assert "theirs.example" not in listing.text
        assert 'href="/ui/redirects"' in listing.text  # in everyone's navigation
        assert 'href="/ui/providers"' not in listing.text
        for path in PAGES:
            assert (await client.get(path)).status_code == 200, path
        # Someone else's domain does not exist for this user, whatever the action.
        assert (await client.get(f"/ui/redirects/{theirs.id}")).status_code == 404
        for action in ("verify", "delete", "edit", "sunset", "check"):
            response = await client.post(
                f"/ui/redirects/{theirs.id}/{action}", data={"csrf_token": csrf}
            )
            assert response.status_code == 404, action
        summary = await client.get("/ui/redirects/summary")
        assert "theirs.example" not in summary.text
        assert "mine.example" in summary.text
        assert (await client.get(f"/ui/redirects/{mine}")).status_code == 200

    async def test_admins_see_everyones_domains(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        owner = await create_user(runtime)
        theirs = await create_domain(runtime, owner, domain="customer.example")
        await create_admin(runtime, username="redirectadmin")
        await log_in(client, "redirectadmin")
        listing = await client.get("/ui/redirects")
        assert "customer.example" in listing.text
        assert "everyone's" in listing.text
        assert (await client.get(f"/ui/redirects/{theirs.id}")).status_code == 200

    async def test_forms_without_the_csrf_token_are_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="csrfredirects")
        csrf = await log_in(client, "csrfredirects")
        domain_id = await _create(client, csrf, "keep.example")
        for path, form in [
            ("/ui/redirects", {"domain": "nope.example", "target_url": "https://x.example"}),
            (f"/ui/redirects/{domain_id}/verify", {}),
            (f"/ui/redirects/{domain_id}/delete", {}),
        ]:
            refused = await client.post(path, data={**form, "csrf_token": "wrong"})
            assert refused.status_code == 403, path
            assert (await client.post(path, data=form)).status_code == 403, path
        listing = await client.get("/ui/redirects")
        assert "keep.example" in listing.text
        assert "nope.example" not in listing.text


class TestCreateAndDelete:
    async def test_create_shows_the_dns_records(
        self, client: httpx.AsyncClient, runtime: Runtime, public_ip: None
    ) -> None:
        await create_user(runtime, username="creator")
        csrf = await log_in(client, "creator")
        new = await client.get("/ui/redirects/new")
        assert 'name="preserve_path" checked' in new.text
        for code in ("301", "302", "307", "308"):
            assert f'<option value="{code}"' in new.text
        response = await client.post(
            "/ui/redirects",
            data={
                "domain": "Alt-Firma.Example.",
                "target_url": "https://www.firma.example/start",
                "redirect_code": "308",
                "include_www": "on",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 303
        detail = await client.get(response.headers["location"])
        text = _flash(detail)
        assert "Added alt-firma.example. Set the DNS records below." in text
        assert "status pending" in detail.text
        assert '<option value="308" selected>' in detail.text
        assert 'name="preserve_path" >' in detail.text  # not ticked
        assert 'name="include_www" checked' in detail.text
        for name in ("alt-firma.example", "www.alt-firma.example"):
            assert re.search(rf'<code id="record-\d-name">{re.escape(name)}</code>', detail.text)
        assert detail.text.count(f">{PUBLIC_IP}</code>") == 2
        assert detail.text.count("data-copy=") == 4
        listing = await client.get("/ui/redirects")
        assert "alt-firma.example" in listing.text
        assert "never" in listing.text  # no hit yet

    async def test_errors_are_shown_next_to_their_fields(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="typist")
        csrf = await log_in(client, "typist")
        await _create(client, csrf, "taken.example")
        cases = [
            ({"domain": "https://bad.example/x"}, "domain", "bare domain name"),
            ({"domain": "192.0.2.1"}, "domain", "IP address"),
            ({"domain": "www.taken.example"}, "domain", "already a redirect domain"),
            ({"target_url": "ftp://files.example"}, "target_url", "http://"),
            ({"target_url": "https://loop.example/x"}, "target_url", "back at the domain"),
            ({"redirect_code": "303"}, "redirect_code", "301, 302, 307 or 308"),
            ({"domain": ""}, "domain", "Enter a domain"),
        ]
        for change, field, message in cases:
            form = {
                "domain": "loop.example",
                "target_url": "https://target.example",
                "redirect_code": "302",
                "csrf_token": csrf,
                **change,
            }
            response = await client.post("/ui/redirects", data=form)
            assert response.status_code == 422, change
            error = re.search(
                rf'<span class="field-error" id="{field}-error">([^<]*)<', response.text
            )
            assert error, (change, response.text[-2000:])
            assert message in html.unescape(error.group(1)), (change, error.group(1))
            # What was typed stays, the unticked boxes too.
            assert 'name="include_www" checked' not in response.text
            assert '<option value="302" selected' in response.text or field == "redirect_code"
        listing = await client.get("/ui/redirects")
        content = listing.text.split('<main id="main">')[1]  # the page, not the navigation
        # new, summary, groups, import and taken.example
        assert content.count('href="/ui/redirects/') == 5

    async def test_delete(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        await create_user(runtime, username="deleter")
        csrf = await log_in(client, "deleter")
        domain_id = await _create(client, csrf, "gone.example")
        detail = await client.get(f"/ui/redirects/{domain_id}")
        assert 'data-confirm="Delete gone.example with all its hits?' in detail.text
        response = await client.post(f"/ui/redirects/{domain_id}/delete", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/redirects"
        listing = await client.get("/ui/redirects")
        assert "Deleted gone.example with its hits." in _flash(listing)
        assert "No redirect domains yet" in listing.text
        assert (await client.get(f"/ui/redirects/{domain_id}")).status_code == 404


class TestVerify:
    async def test_without_addresses_nothing_is_checked(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="noaddress")
        csrf = await log_in(client, "noaddress")
        domain_id = await _create(client, csrf, "unchecked.example")
        detail = await client.get(f"/ui/redirects/{domain_id}")
        assert "STELLWERK_PUBLIC_IPV4" in detail.text
        response = await client.post(f"/ui/redirects/{domain_id}/verify", data={"csrf_token": csrf})
        assert response.status_code == 303
        page = await client.get(response.headers["location"])
        assert "Not checked: Set STELLWERK_PUBLIC_IPV4" in _flash(page)

    async def test_pending_until_the_records_point_here(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        powerdns: PowerDns,  # noqa: F811 - the fixture imported above
        public_ip: None,
    ) -> None:
        runtime.settings.dns_resolvers = powerdns.resolver
        await create_user(runtime, username="verifier")
        csrf = await log_in(client, "verifier")
        name = unique_domain("webverify")
        powerdns.create_zone(name)
        domain_id = await _create(client, csrf, name)

        response = await client.post(f"/ui/redirects/{domain_id}/verify", data={"csrf_token": csrf})
        assert response.status_code == 303
        page = await client.get(f"/ui/redirects/{domain_id}")
        assert f"Not yet: {name} has no A record" in _flash(page)
        assert "status pending" in page.text
        assert "Last checked" in page.text

        powerdns.set_record(name, "A", [PUBLIC_IP])
        powerdns.set_record(f"www.{name}", "A", [PUBLIC_IP])
        await client.post(f"/ui/redirects/{domain_id}/verify", data={"csrf_token": csrf})
        page = await client.get(f"/ui/redirects/{domain_id}")
        assert f"The DNS records of {name} point here: it is active." in _flash(page)
        assert "status active" in page.text
        assert "all records point here" in page.text


class TestCharts:
    async def test_domain_and_summary_charts_carry_a_table(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime, username="charted")
        busy = await create_domain(runtime, user, domain="busy.example")
        quiet = await create_domain(runtime, user, domain="quiet.example")
        now = int(time.time() * 1000)
        await write_hits(
            runtime,
            [
                hit_row(busy.id, ts=now, country="DE"),
                hit_row(busy.id, ts=now, country="DE"),
                hit_row(busy.id, ts=now - 3 * DAY_MS, country="FR"),
                hit_row(busy.id, ts=now - 3 * DAY_MS, country=None),
                hit_row(quiet.id, ts=now - 40 * DAY_MS, country="AT"),
            ],
        )
        await log_in(client, "charted")

        detail = await client.get(f"/ui/redirects/{busy.id}")
        assert detail.status_code == 200
        assert detail.text.count('<rect class="bar"') >= 30  # a bar per day, zero days too
        assert "4 in 30 days, at most 2 a day" in detail.text
        assert "<td>DE</td><td>2</td>" in detail.text
        assert "<td>FR</td><td>1</td>" in detail.text
        assert "<td>unknown</td><td>1</td>" in detail.text
        assert "Countries, the last 30 days as a table" in detail.text
        week = await client.get(f"/ui/redirects/{busy.id}?days=7")
        assert "4 in 7 days" in week.text
        assert '<span class="button" aria-current="true">7 days</span>' in week.text
        odd = await client.get(f"/ui/redirects/{busy.id}?days=5")
        assert "in 30 days" in odd.text  # only the offered periods
        today = await client.get(f"/ui/redirects/{busy.id}?days=1")
        assert "2 in 24 hours, at most 2 an hour" in today.text
        assert today.text.count('<rect class="bar"') >= 24
        for title in ("Referrers", "Paths", "Browsers", "Operating systems", "Devices"):
            assert f"{title} as a table" in detail.text
        assert "Include bots" in detail.text

        summary = await client.get("/ui/redirects/summary?days=90")
        assert "5 in 90 days" in summary.text
        assert "<td>busy.example</td><td>4</td>" in summary.text
        assert "<td>quiet.example</td><td>1</td>" in summary.text
        assert "<td>AT</td><td>1</td>" in summary.text
        assert "Top domains as a table" in summary.text
        month = await client.get("/ui/redirects/summary")
        assert "<td>quiet.example</td><td>0</td>" in month.text  # zero-hit domains are listed

        listing = await client.get("/ui/redirects")
        row = re.search(r"busy\.example</a>.*?</tr>", listing.text, re.S)
        assert row
        assert '<td data-label="Hits">4</td>' in row.group(0)
        assert "never" not in row.group(0)


class TestPortfolioPages:
    async def test_edit_sunset_groups_and_bulk_actions(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime, username="portfolio")
        csrf = await log_in(client, "portfolio")
        first = await _create(client, csrf, "first.example")
        second = await _create(client, csrf, "second.example")
        made = await client.post(
            "/ui/redirects/groups",
            data={"name": "Brands", "color": "#123abc", "csrf_token": csrf},
        )
        assert "Created the group Brands." in _flash(await client.get(made.headers["location"]))
        groups = await client.get("/ui/redirects/groups")
        group_id = int(re.search(r"/ui/redirects/groups/(\d+)/delete", groups.text).group(1))
        assert "--chip: #123abc" in groups.text

        edited = await client.post(
            f"/ui/redirects/{first}/edit",
            data={
                "target_url": "https://edited.example",
                "redirect_code": "302",
                "include_www": "on",
                "group_id": str(group_id),
                "csrf_token": csrf,
            },
        )
        page = await client.get(edited.headers["location"])
        assert "Saved first.example" in _flash(page)
        assert 'value="https://edited.example"' in page.text
        assert f'<option value="{group_id}" selected>Brands</option>' in page.text
        bad = await client.post(
            f"/ui/redirects/{first}/edit",
            data={
                "target_url": "https://first.example/",
                "redirect_code": "302",
                "csrf_token": csrf,
            },
        )
        assert "Not saved" in _flash(await client.get(bad.headers["location"]))

        sunset = await client.post(
            f"/ui/redirects/{first}/sunset",
            data={
                "sunset_status": "410",
                "sunset_date": "2027-01-31",
                "csrf_token": csrf,
                "action": "on",
            },
        )
        page = await client.get(sunset.headers["location"])
        assert "now shows its sunset page" in _flash(page)
        assert 'value="2027-01-31"' in page.text

        listing = await client.get(f"/ui/redirects?group={group_id}")
        assert "first.example" in listing.text
        assert "second.example" not in listing.text
        assert "sunset page (410)" in listing.text
        moved = await client.post(
            "/ui/redirects/bulk",
            data={
                "ids": [str(first), str(second)],
                "action": "set_group",
                "to_group_id": str(group_id),
                "csrf_token": csrf,
            },
        )
        assert "Moved 2 domain(s)." in _flash(await client.get(moved.headers["location"]))
        summary = await client.get(f"/ui/redirects/summary?group={group_id}")
        assert summary.status_code == 200
        assert "Brands" in summary.text
        targeted = await client.post(
            "/ui/redirects/bulk",
            data={
                "ids": [str(first), str(second)],
                "action": "set_target",
                "target_url": "https://bulk.example",
                "csrf_token": csrf,
            },
        )
        assert "New target for 2 domain(s)." in _flash(
            await client.get(targeted.headers["location"])
        )
        refused = await client.post(
            "/ui/redirects/bulk",
            data={
                "ids": [str(first)],
                "action": "set_target",
                "target_url": "ftp://x",
                "csrf_token": csrf,
            },
        )
        assert "Nothing changed" in _flash(await client.get(refused.headers["location"]))

        other = await create_user(runtime, username="outsider")
        theirs = await create_domain(runtime, other)
        await log_in(client, "outsider")
        assert (await client.get(f"/ui/redirects/summary?group={group_id}")).status_code == 404
        assert "Brands" not in (await client.get("/ui/redirects/groups")).text
        csrf = await log_in(client, "portfolio")
        foreign = await client.post(
            "/ui/redirects/bulk",
            data={"ids": [str(theirs.id)], "action": "delete", "csrf_token": csrf},
        )
        assert "Nothing changed" in _flash(await client.get(foreign.headers["location"]))
        gone = await client.post(
            "/ui/redirects/bulk",
            data={"ids": [str(first), str(second)], "action": "delete", "csrf_token": csrf},
        )
        assert "Deleted 2 domain(s)." in _flash(await client.get(gone.headers["location"]))
        assert user.id

    async def test_import_shows_a_dry_run_before_applying(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="importer")
        csrf = await log_in(client, "importer")
        content = "domain,target_url,group\nimp1.example,https://t.example,Imported\nbad,https://t.example,\n"
        dry = await client.post(
            "/ui/redirects/import",
            data={"csrf_token": csrf},
            files={"file": ("domains.csv", content.encode(), "text/csv")},
        )
        assert dry.status_code == 200
        assert "Dry run: nothing has changed yet" in dry.text
        assert "1 to create, 0 to update, 0 unchanged, 1 with errors" in dry.text
        assert "imp1.example" not in (await client.get("/ui/redirects")).text
        applied = await client.post(
            "/ui/redirects/import", data={"csrf_token": csrf, "apply": "1", "csv_text": content}
        )
        assert "Imported" in applied.text
        assert "imp1.example" in (await client.get("/ui/redirects")).text
        empty = await client.post("/ui/redirects/import", data={"csrf_token": csrf})
        assert empty.status_code == 400


async def test_the_pages_downloads_work_with_the_browser_session(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The export links and the QR image on the pages are API calls the web session may make."""
    user = await create_user(runtime, username="downloader")
    record = await create_domain(runtime, user, domain="download.example")
    await write_hits(runtime, [hit_row(record.id, ts=int(time.time() * 1000))])
    await log_in(client, "downloader")
    detail = await client.get(f"/ui/redirects/{record.id}")
    for link in (
        f"/api/v1/domains/{record.id}/qr.svg?scale=4",
        "/api/v1/domains/export.csv",
        f"/api/v1/hits/export.csv?domain_id={record.id}",
    ):
        assert link.split("?")[0] in detail.text or "export.csv" in link
        response = await client.get(link)
        assert response.status_code == 200, link
    listing = await client.get("/ui/redirects?q=download")
    assert 'href="/api/v1/domains/export.csv?q=download"' in listing.text
