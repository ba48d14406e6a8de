"""Registrar and DNS pages through the ASGI client, against the INWX sandbox."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.provider.running import Sandboxes, provider_sandboxes
from tests.redirect.conftest import PDNS_API_KEY, PowerDns, powerdns  # noqa: F401 - the fixture
from tests.web.test_router import log_in

PAGES = ["/ui/domains", "/ui/domains/register", "/ui/domains/transfer", "/ui/dns"]
VALID = [
    {"name": "@", "type": "A", "content": "192.0.2.1"},
    {"name": "www", "type": "AAAA", "content": "2001:db8::1"},
    {"name": "shop", "type": "CNAME", "content": "www.example.net."},
    {"name": "@", "type": "MX", "content": "mail.example.net", "priority": "10"},
    {"name": "@", "type": "TXT", "content": "v=spf1 -all"},
    {"name": "_sip._tcp", "type": "SRV", "content": "5 5060 sip.example.net", "priority": "10"},
    {"name": "@", "type": "CAA", "content": '0 issue "letsencrypt.org"'},
]
INVALID = [
    ({"name": "@", "type": "A", "content": "300.1.1.1"}, "content"),
    ({"name": "@", "type": "AAAA", "content": "192.0.2.1"}, "content"),
    ({"name": "@", "type": "CNAME", "content": "x.example.net"}, "name"),
    ({"name": "@", "type": "MX", "content": "mail.example.net"}, "priority"),
    ({"name": "sip", "type": "SRV", "content": "5 5060 sip.example.net", "priority": "1"}, "name"),
    ({"name": "@", "type": "CAA", "content": "issue letsencrypt.org"}, "content"),
    ({"name": "bad name", "type": "A", "content": "192.0.2.1"}, "name"),
    ({"name": "@", "type": "A", "content": "192.0.2.1", "ttl": "5"}, "ttl"),
    ({"name": "@", "type": "A", "content": ""}, "content"),
]


@pytest_asyncio.fixture
async def sandboxes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandboxes]:
    monkeypatch.setenv("STELLWERK_SANDBOX_INWX_TRANSFER_SECONDS", "0.5")
    async with provider_sandboxes() as running:
        yield running


@pytest.fixture
def with_powerdns(
    runtime: Runtime,
    powerdns: PowerDns,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Zones at a real PowerDNS on loopback (the INWX sandbox paces calls like INWX does)."""
    monkeypatch.setattr(runtime.settings, "powerdns_api_url", powerdns.api.split("/api/v1")[0])
    monkeypatch.setattr(runtime.settings, "powerdns_api_key", SecretStr(PDNS_API_KEY))


def _text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def _field_error(response: httpx.Response, field: str) -> str | None:
    match = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)<', response.text)
    return html.unescape(match.group(1)) if match else None


class TestAccess:
    async def test_pages_need_a_login(self, client: httpx.AsyncClient) -> None:
        for path in [*PAGES, "/ui/domains/demo-shop.de", "/ui/dns/demo-shop.de"]:
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")

    async def test_every_user_may_use_them_as_in_the_api(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        """Customers hold read:dns and write:dns (their own zones); admin pages stay closed."""
        await create_admin(runtime, username="dnsadminuser")
        await log_in(client, "dnsadminuser")
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
        client.cookies.clear()
        await create_user(runtime, username="dnsuser")
        await log_in(client, "dnsuser")
        for path in ["/ui/domains", "/ui/dns"]:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
        assert 'href="/ui/domains"' in response.text
        assert 'href="/ui/dns"' in response.text
        assert 'href="/ui/providers"' not in response.text
        assert (await client.get("/ui/providers")).status_code == 403

    async def test_forms_without_the_csrf_token_are_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        await create_admin(runtime, username="dnscsrf")
        await log_in(client, "dnscsrf")
        for path, form in [
            ("/ui/domains/register", {"domain": "demo-shop.de"}),
            ("/ui/domains/transfer", {"domain": "moving.de", "auth_code": "secret-code"}),
            ("/ui/dns", {"name": "csrf-zone.de", "provider": "inwx"}),
            ("/ui/dns/csrf-zone.de/records", {"type": "A", "content": "192.0.2.1"}),
            ("/ui/dns/csrf-zone.de/records/1", {"content": "192.0.2.1"}),
            ("/ui/dns/csrf-zone.de/records/1/delete", {}),
            ("/ui/dns/csrf-zone.de/remove", {}),
        ]:
            refused = await client.post(path, data={**form, "csrf_token": "wrong"})
            assert refused.status_code == 403, path
            assert (await client.post(path, data=form)).status_code == 403, path
        listing = await client.get("/ui/domains")
        assert 'href="/ui/domains/demo-shop.de"' not in listing.text
        assert "csrf-zone.de" not in (await client.get("/ui/dns")).text


class TestRegistrar:
    async def test_register_and_transfer_are_for_admins(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        """They charge the registrar account: a user sees no form and a POST is refused."""
        await create_user(runtime, username="nobuyer")
        csrf = await log_in(client, "nobuyer")
        listing = await client.get("/ui/domains", params={"check": "demo-shop.de"})
        assert listing.status_code == 200
        assert "4.90 EUR" in listing.text  # checking stays open
        for path in ["/ui/domains/register", "/ui/domains/transfer"]:
            assert f'href="{path}' not in listing.text, path
        assert "Only admins may register or transfer domains" in _text(listing)
        for path, form in [
            ("/ui/domains/register", {"domain": "demo-shop.de"}),
            ("/ui/domains/transfer", {"domain": "moving-shop.de", "auth_code": "Sup3r-S3cret"}),
        ]:
            page = await client.get(path)
            assert page.status_code == 403, path
            assert "Only admins may register or transfer domains" in _text(page)
            assert f'action="{path}"' not in page.text
            refused = await client.post(path, data={**form, "csrf_token": csrf})
            assert refused.status_code == 403, path
            assert "Only admins may register or transfer domains" in _text(refused)
        assert sandboxes.inwx_state["domains"] == {}
        assert "No domains yet." in (await client.get("/ui/domains")).text

        client.cookies.clear()
        await create_admin(runtime, username="admbuyer")
        await log_in(client, "admbuyer")
        listing = await client.get("/ui/domains", params={"check": "demo-shop.de"})
        assert 'href="/ui/domains/register"' in listing.text
        assert 'href="/ui/domains/transfer"' in listing.text
        assert 'href="/ui/domains/register?domain=demo-shop.de"' in listing.text
        assert "Only admins may" not in listing.text

    async def test_check_shows_price_currency_and_premium(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        await create_admin(runtime, username="checker")
        await log_in(client, "checker")
        response = await client.get(
            "/ui/domains", params={"check": "demo-shop.de, example.com ab.io"}
        )
        assert response.status_code == 200
        rows = re.findall(
            r"<tr><td data-label=\"Domain\">([^<]+)</td>(.*?)</tr>", response.text, re.S
        )
        found = dict(rows)
        assert "4.90 EUR" in found["demo-shop.de"]
        assert "status available" in found["demo-shop.de"]
        assert 'href="/ui/domains/register?domain=demo-shop.de"' in found["demo-shop.de"]
        assert "status taken" in found["example.com"]
        assert "Register" not in found["example.com"]
        assert "2500.00" in found["ab.io"]
        assert "premium" in found["ab.io"]
        bad = await client.get("/ui/domains", params={"check": "no_such!.de"})
        assert bad.status_code == 422
        assert "not a valid domain name" in (_field_error(bad, "domains") or "")

    async def test_register_then_see_it_listed(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        await create_admin(runtime, username="buyer")
        csrf = await log_in(client, "buyer")
        form = await client.get("/ui/domains/register", params={"domain": "demo-shop.de"})
        assert "4.90 EUR" in form.text
        assert 'data-confirm="Buy demo-shop.de for 4.90 EUR a year?' in form.text
        response = await client.post(
            "/ui/domains/register",
            data={"domain": "Demo-Shop.DE", "period_years": "2", "csrf_token": csrf},
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/ui/domains/demo-shop.de"
        detail = await client.get(response.headers["location"])
        assert "Registered demo-shop.de for 4.90 EUR." in _text(detail)
        assert "status active" in detail.text
        assert 'href="/ui/dns/demo-shop.de"' in detail.text
        listing = await client.get("/ui/domains")
        assert 'href="/ui/domains/demo-shop.de"' in listing.text
        assert (
            'href="/ui/domains/demo-shop.de"'
            in (await client.get("/ui/domains?status=active")).text
        )
        assert (
            "No domains with status pending"
            in (await client.get("/ui/domains?status=pending")).text
        )

        again = await client.post(
            "/ui/domains/register", data={"domain": "demo-shop.de", "csrf_token": csrf}
        )
        assert again.status_code == 422
        assert "already in this account" in (_field_error(again, "domain") or "")
        for change, field in [
            ({"domain": "bad domain.de"}, "domain"),
            ({"domain": "other-shop.de", "period_years": "11"}, "period_years"),
            ({"domain": "other-shop.de", "nameservers": "not a host!"}, "nameservers"),
        ]:
            refused = await client.post("/ui/domains/register", data={**change, "csrf_token": csrf})
            assert refused.status_code == 422, change
            assert _field_error(refused, field), (change, refused.text[-1500:])
        assert "other-shop.de" not in (await client.get("/ui/domains")).text

    async def test_transfer_is_pending_and_keeps_no_auth_code(
        self, client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes
    ) -> None:
        await create_admin(runtime, username="mover")
        csrf = await log_in(client, "mover")
        short = await client.post(
            "/ui/domains/transfer",
            data={"domain": "moving-shop.de", "auth_code": "abc", "csrf_token": csrf},
        )
        assert short.status_code == 422
        assert _field_error(short, "auth_code")
        response = await client.post(
            "/ui/domains/transfer",
            data={"domain": "moving-shop.de", "auth_code": "Sup3r-S3cret", "csrf_token": csrf},
        )
        assert response.status_code == 303, response.text
        detail = await client.get(response.headers["location"])
        assert "The transfer of moving-shop.de started" in _text(detail)
        assert "Sup3r-S3cret" not in detail.text
        assert "transferred" in detail.text
        assert (await client.get("/ui/domains/unknown-shop.de")).status_code == 404


class TestDns:
    async def test_zone_records_create_update_delete(
        self, client: httpx.AsyncClient, runtime: Runtime, with_powerdns: None
    ) -> None:
        await create_user(runtime, username="dnsadmin", role="staff")
        csrf = await log_in(client, "dnsadmin")
        zone = f"z{uuid.uuid4().hex[:8]}.de"
        added = await client.post(
            "/ui/dns", data={"name": zone, "provider": "powerdns", "csrf_token": csrf}
        )
        assert added.status_code == 303, added.text
        assert added.headers["location"] == f"/ui/dns/{zone}"
        bad_zone = await client.post(
            "/ui/dns", data={"name": "not a zone", "provider": "powerdns", "csrf_token": csrf}
        )
        assert bad_zone.status_code == 422
        assert _field_error(bad_zone, "name")
        opened = await client.get("/ui/dns", params={"zone": zone.upper()})
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/ui/dns/{zone}"

        for record in VALID:
            response = await client.post(
                f"/ui/dns/{zone}/records", data={**record, "ttl": "3600", "csrf_token": csrf}
            )
            assert response.status_code == 303, (record, response.text[-1500:])
        for record, field in INVALID:
            response = await client.post(
                f"/ui/dns/{zone}/records", data={**record, "csrf_token": csrf}
            )
            assert response.status_code == 422, record
            assert _field_error(response, field), (record, response.text[-1500:])
            # What was typed stays in the form.
            assert f'<option value="{record["type"]}" selected' in response.text

        page = await client.get(f"/ui/dns/{zone}")
        assert f"{zone} <small" in page.text
        for record in VALID:
            assert record["content"].rstrip(".") in _text(page), record
        a_id = re.search(
            rf'action="/ui/dns/{re.escape(zone)}/records/([^"/]+)">.*?value="192\.0\.2\.1"',
            page.text,
            re.S,
        )
        assert a_id
        record_id = a_id.group(1)

        bad = await client.post(
            f"/ui/dns/{zone}/records/{record_id}", data={"content": "nope", "csrf_token": csrf}
        )
        assert bad.status_code == 422
        assert "not an IP address" in (_field_error(bad, "content") or "")
        assert 'class="quick-edit" open' in bad.text
        saved = await client.post(
            f"/ui/dns/{zone}/records/{record_id}",
            data={"content": "192.0.2.2", "ttl": "600", "csrf_token": csrf},
        )
        assert saved.status_code == 303
        page = await client.get(f"/ui/dns/{zone}")
        assert f"Saved A {zone}." in _text(page)
        assert "192.0.2.2" in page.text
        assert ">192.0.2.1<" not in page.text

        new_id = re.search(
            r'records/([^"/]+)/delete" class="inline" data-confirm="Delete the A record',
            page.text,
        )
        assert new_id
        deleted = await client.post(
            f"/ui/dns/{zone}/records/{new_id.group(1)}/delete", data={"csrf_token": csrf}
        )
        assert deleted.status_code == 303
        page = await client.get(f"/ui/dns/{zone}")
        assert "Deleted the record." in _text(page)
        assert "192.0.2.2" not in page.text

        zones = await client.get("/ui/dns")
        assert f'href="/ui/dns/{zone}"' in zones.text
        forgot = await client.post(f"/ui/dns/{zone}/remove", data={"csrf_token": csrf})
        assert forgot.status_code == 303
        assert f'href="/ui/dns/{zone}"' not in (await client.get("/ui/dns")).text
