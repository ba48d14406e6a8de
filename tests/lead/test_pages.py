"""The leads pages, used through a browser session (cookie and CSRF token)."""

from __future__ import annotations

import csv
import io

import httpx

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
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
    assert "2 lead(s) imported, 3 row(s) rejected" in report.text
    assert "already exists" in report.text
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
