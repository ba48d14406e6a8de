"""The leads pages, used through a browser session (cookie and CSRF token)."""

from __future__ import annotations

import csv
import io

import httpx

from stellwerk.runtime import Runtime
from tests.factories import admin_headers, create_admin, create_user
from tests.web.test_router import log_in


async def test_pages_need_an_admin_login(client: httpx.AsyncClient, runtime: Runtime) -> None:
    anonymous = await client.get("/leads/")
    assert anonymous.status_code in (302, 303, 307)
    assert anonymous.headers["location"].startswith("/login")
    await create_user(runtime, username="plainuser")
    await log_in(client, "plainuser")
    # A non-admin's cookie gives no access to the CRM's data.
    assert (await client.get("/leads/api/stats")).status_code == 403


async def test_create_edit_delete_export_import(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_admin(runtime, username="leadadmin")
    csrf = await log_in(client, "leadadmin")
    assert (await client.get("/leads/create")).status_code == 200
    created = await client.post(
        "/leads/create",
        data={"name": "Tech University", "type": "university", "status": "new", "csrf_token": csrf},
    )
    assert created.status_code == 303
    edit_path = created.headers["location"]
    lead_id = int(edit_path.rsplit("/", 1)[1])
    edit = await client.get(edit_path)
    assert "Tech University" in edit.text
    invalid = await client.post(f"/leads/update/{lead_id}", data={"name": "", "csrf_token": csrf})
    assert invalid.status_code == 422
    updated = await client.post(
        f"/leads/update/{lead_id}",
        data={"name": "Tech University", "type": "university", "status": "won", "csrf_token": csrf},
    )
    assert updated.status_code == 303
    overview = await client.get("/leads/")
    assert "Tech University" in overview.text
    export = await client.get("/leads/export")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows[0]["name"] == "Tech University"
    assert rows[0]["status"] == "won"
    upload = (
        "name,type,status,website\n"
        "City Council,government,new,https://city.example\n"
        "Tech University,university,new,\n"
        ",company,new,\n"
        "Startup,spaceship,new,\n"
        "=HYPERLINK(1),company,new,\n"
    )
    imported = await client.post(
        "/leads/import",
        data={"csrf_token": csrf},
        files={"file": ("leads.csv", upload.encode(), "text/csv")},
    )
    # Post, redirect, get: the report is shown once, and reloading imports nothing again.
    assert imported.status_code == 303
    assert imported.headers["location"] == "/leads/import"
    report = await client.get("/leads/import")
    assert "2 lead(s) imported" in report.text
    assert "1 already there, 2 row(s) rejected" in report.text
    assert report.headers["cache-control"] == "no-store"
    again = await client.get("/leads/import")
    assert again.status_code == 303
    assert again.headers["location"] == "/leads/"
    exported = (await client.get("/leads/export")).text
    # Formula-like cells are defused for spreadsheet programs.
    assert "'=HYPERLINK(1)" in exported
    deleted = await client.post(f"/leads/delete/{lead_id}", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert f'/leads/edit/{lead_id}"' not in (await client.get("/leads/")).text


async def test_export_and_import_round_trip_with_contacts_details_and_notes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The export holds everything; importing it again changes nothing; importing it into an
    empty CRM brings back every contact, detail and note version."""
    await create_admin(runtime, username="crmadmin")
    csrf = await log_in(client, "crmadmin")
    admin = await admin_headers(runtime)
    institution = (
        await client.post(
            "/leads/api/institutions",
            json={"name": "Round Trip AG", "type": "company", "status": "qualified"},
            headers=admin,
        )
    ).json()
    contact = (
        await client.post(
            "/leads/api/contacts",
            json={
                "institution_id": institution["id"],
                "first_name": "Ada",
                "last_name": "Lovelace",
                "position": "CTO",
                "details": [
                    {"type": "email", "value": "ada@roundtrip.example", "label": "Work"},
                    {"type": "phone", "value": "+49 30 123456"},
                ],
            },
            headers=admin,
        )
    ).json()
    note = (
        await client.post(
            f"/leads/api/contacts/{contact['id']}/notes",
            json={"content": "First call, =SUM(1) ok"},
            headers=admin,
        )
    ).json()
    await client.put(
        f"/leads/api/notes/{note['id']}", json={"content": "Second call"}, headers=admin
    )
    await client.post("/leads/api/institutions", json={"name": "Empty Lead"}, headers=admin)

    exported = (await client.get("/leads/export")).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["record"] for r in rows] == [
        "institution",  # Empty Lead: by name
        "institution",
        "contact",
        "detail",
        "detail",
        "note",
        "note",
    ]
    assert rows[1]["contact_count"] == "1"
    assert [r["content"] for r in rows if r["record"] == "note"] == [
        "First call, =SUM(1) ok",
        "Second call",
    ]

    async def upload(text: str) -> str:
        response = await client.post(
            "/leads/import",
            data={"csrf_token": csrf},
            files={"file": ("leads.csv", text.encode(), "text/csv")},
        )
        # Post, redirect, get: the report is on the page the import redirects to.
        assert response.status_code == 303, response.text
        report = await client.get(response.headers["location"])
        assert report.status_code == 200, report.text
        return report.text

    again = await upload(exported)
    assert (
        "0 lead(s) imported with 0 contact(s), 0 detail(s) and 0 note version(s); "
        "7 already there, 0 row(s) rejected" in again
    )
    assert (await client.get("/leads/export")).text == exported

    for lead in (await client.get("/leads/api/institutions", headers=admin)).json()["institutions"]:
        await client.delete(f"/leads/api/institutions/{lead['id']}", headers=admin)
    fresh = await upload(exported)
    assert "2 lead(s) imported with 1 contact(s), 2 detail(s) and 2 note version(s)" in fresh
    assert (await client.get("/leads/export")).text == exported
    restored = (await client.get("/leads/api/contacts?search=Lovelace", headers=admin)).json()
    contact_id = restored["items"][0]["id"]
    shown = (await client.get(f"/leads/api/contacts/{contact_id}", headers=admin)).json()
    assert [n["content"] for n in shown["notes"]] == ["Second call"]
    versions = (
        await client.get(f"/leads/api/notes/{shown['notes'][0]['id']}/versions", headers=admin)
    ).json()
    assert [v["content"] for v in versions["versions"]] == ["First call, =SUM(1) ok", "Second call"]

    broken = await upload(
        "record,name,first_name,last_name,detail_type,value\n"
        "contact,Nowhere Inc,Bob,Builder,,\n"
        "detail,Round Trip AG,Nobody,Here,email,x@y.example\n"
        "detail,Round Trip AG,Ada,Lovelace,email,not-an-email\n"
        "gadget,Round Trip AG,,,,\n"
    )
    assert "4 row(s) rejected" in broken
    assert "no institution named" in broken
    assert "has no contact Nobody Here" in broken
