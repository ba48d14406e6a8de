"""Sunset pages on the data plane, and QR codes of a domain."""

from __future__ import annotations

import httpx
import pytest

from stellwerk.redirect import sunset
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_token, create_user
from tests.redirect.conftest import RunningPlane, wait_for
from tests.redirect.factories import create_domain

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]


def test_sunset_settings_are_checked() -> None:
    assert sunset.normalize(None) is None
    assert sunset.normalize({"enabled": False, "title": "x"}) is None
    config = sunset.normalize({"sunset_date": "01.02.2027", "company_name": "  Firma  "})
    assert config == {
        "enabled": True,
        "status_code": 410,
        "sunset_date": "2027-02-01",
        "title": None,
        "message": None,
        "button_label": None,
        "company_name": "Firma",
    }
    assert sunset.sunset_header(config) == "Mon, 01 Feb 2027 00:00:00 GMT"
    for bad in ({"status_code": 301}, {"sunset_date": "soon"}, {"title": "x" * 201}, {"x": 1}):
        with pytest.raises(Exception, match="sunset|status_code|title|Unknown"):
            sunset.normalize(bad)


def test_the_page_escapes_what_it_shows() -> None:
    status, headers, body = sunset.render(
        "alt.example",
        'https://new.example/?a=1&b="2"',
        {"status_code": 200, "title": "<script>x</script>", "company_name": "A & B"},
    )
    assert status == 200
    assert b"<script>x" not in body
    assert b"&lt;script&gt;" in body
    assert b"A &amp; B" in body
    assert b"sunset:" not in headers


class TestSunsetOnTheDataPlane:
    async def test_a_sunset_domain_answers_410_with_the_page_and_the_header(
        self, client: httpx.AsyncClient, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user, domain="closing.example")
        response = await client.patch(
            f"/api/v1/domains/{record.id}",
            headers=headers,
            json={
                "sunset_config": {
                    "status_code": 410,
                    "sunset_date": "2027-03-31",
                    "company_name": "Firma GmbH",
                }
            },
        )
        assert response.status_code == 200, response.text
        async with httpx.AsyncClient(base_url=data_plane.url) as http:

            async def gone() -> bool:
                answer = await http.get("/old", headers={"Host": "www.closing.example"})
                return answer.status_code == 410

            await wait_for(gone, timeout=3.0)
            page = await http.get("/old", headers={"Host": "closing.example"})
            assert page.status_code == 410
            assert page.headers["sunset"] == "Wed, 31 Mar 2027 00:00:00 GMT"
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert "location" not in page.headers
            assert "closing.example has been closed" in page.text
            assert 'href="https://www.firma.example"' in page.text
            assert "Firma GmbH" in page.text
            assert "2027-03-31" in page.text
            head = await http.head("/", headers={"Host": "closing.example"})
            assert (head.status_code, head.content) == (410, b"")

            await client.patch(
                f"/api/v1/domains/{record.id}",
                headers=headers,
                json={"sunset_config": {"status_code": 200}},
            )

            async def moved() -> bool:
                answer = await http.get("/", headers={"Host": "closing.example"})
                return answer.status_code == 200 and "has moved" in answer.text

            await wait_for(moved, timeout=3.0)
            assert (
                "sunset" not in (await http.get("/", headers={"Host": "closing.example"})).headers
            )
            await client.patch(
                f"/api/v1/domains/{record.id}", headers=headers, json={"sunset_config": None}
            )

            async def redirecting() -> bool:
                answer = await http.get("/", headers={"Host": "closing.example"})
                return answer.status_code == 301

            await wait_for(redirecting, timeout=3.0)

        async def counted() -> bool:
            """Page views are hits like redirects (stored by the hit writer within a moment)."""
            stats = (
                await client.get(f"/api/v1/domains/{record.id}/stats?bots=include", headers=headers)
            ).json()
            return bool(stats["total"] >= 4)

        await wait_for(counted, timeout=5.0)


class TestQrCodes:
    async def test_svg_and_png_link_to_the_domain(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ["read:domains"]))
        record = await create_domain(runtime, user, domain="qr.example")
        svg = await client.get(f"/api/v1/domains/{record.id}/qr.svg", headers=headers)
        assert svg.status_code == 200
        assert svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg")
        assert "qr.example" in svg.text
        png = await client.get(f"/api/v1/domains/{record.id}/qr.png?scale=4", headers=headers)
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert (
            await client.get(f"/api/v1/domains/{record.id}/qr.gif", headers=headers)
        ).status_code == 404  # no such format: no such resource
        other = bearer(await create_token(runtime, await create_user(runtime), ["read:domains"]))
        assert (
            await client.get(f"/api/v1/domains/{record.id}/qr.svg", headers=other)
        ).status_code == 404
