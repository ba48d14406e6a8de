"""An institution's contacts and notes on its page: add, edit and delete through the forms."""

from __future__ import annotations

import re

import httpx

from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.web.test_router import log_in


async def _institution(client: httpx.AsyncClient, csrf: str) -> int:
    created = await client.post(
        "/leads/create",
        data={"name": "Harbour College", "type": "university", "csrf_token": csrf},
    )
    assert created.status_code == 303, created.text
    return int(created.headers["location"].rsplit("/", 1)[1])


def _ids(kind: str, html: str) -> list[int]:
    return [int(i) for i in re.findall(rf'id="{kind}-(\d+)"', html)]


async def test_contacts_and_notes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await create_admin(runtime, username="crmadmin")
    csrf = await log_in(client, "crmadmin")
    lead_id = await _institution(client, csrf)
    page = f"/leads/edit/{lead_id}"
    assert "No contacts yet" in (await client.get(page)).text

    contact = {"first_name": "Ada", "last_name": "Byron", "position": "Dean"}
    refused = await client.post(f"{page}/contacts", data=contact)
    assert refused.status_code == 403
    missing = await client.post(
        f"{page}/contacts", data={**contact, "first_name": " ", "csrf_token": csrf}
    )
    assert missing.status_code == 422
    assert 'id="contact_first_name-error"' in missing.text
    assert 'value="Byron"' in missing.text  # the form keeps what was typed
    bad_email = await client.post(
        f"{page}/contacts", data={**contact, "email": "not-an-address", "csrf_token": csrf}
    )
    assert bad_email.status_code == 422
    assert re.search(r'id="contact_email-error">[^<]*valid email', bad_email.text)

    added = await client.post(
        f"{page}/contacts",
        data={
            **contact,
            "email": "ada@harbour.example",
            "phone": "+49 30 1234",
            "csrf_token": csrf,
        },
    )
    assert added.status_code == 303
    html = (await client.get(page)).text
    assert "Contact Ada Byron added" in html
    (contact_id,) = _ids("contact", html)
    assert "ada@harbour.example" in html
    assert "+49 30 1234" in html

    blank = await client.post(
        f"/leads/contacts/{contact_id}/update",
        data={"first_name": "Ada", "last_name": "", "csrf_token": csrf},
    )
    assert blank.status_code == 422
    assert f'id="contact_{contact_id}_last_name-error"' in blank.text
    renamed = await client.post(
        f"/leads/contacts/{contact_id}/update",
        data={"first_name": "Ada", "last_name": "Lovelace", "position": "", "csrf_token": csrf},
    )
    assert renamed.status_code == 303
    assert "Contact Ada Lovelace saved" in (await client.get(page)).text

    empty_note = await client.post(
        f"/leads/contacts/{contact_id}/notes", data={"content": "  ", "csrf_token": csrf}
    )
    assert empty_note.status_code == 422
    assert f'id="note_{contact_id}_content-error"' in empty_note.text
    await client.post(
        f"/leads/contacts/{contact_id}/notes",
        data={"content": "Met at the fair", "csrf_token": csrf},
    )
    html = (await client.get(page)).text
    assert "Note added" in html
    assert "Met at the fair" in html
    (note_id,) = _ids("note", html)
    edited = await client.post(
        f"/leads/notes/{note_id}/update",
        data={"content": "Met at the fair; wants a demo", "csrf_token": csrf},
    )
    html = (await client.get(edited.headers["location"].split("#")[0])).text
    assert "Note saved (version 2)" in html
    assert "wants a demo" in html
    assert "version 2" in html
    assert 'data-confirm="Delete this note with all its versions?"' in html
    assert 'data-confirm="Delete the contact Ada Lovelace with their notes?"' in html

    await client.post(f"/leads/notes/{note_id}/delete", data={"csrf_token": csrf})
    html = (await client.get(page)).text
    assert "Note deleted" in html
    assert "No notes yet" in html
    await client.post(f"/leads/contacts/{contact_id}/delete", data={"csrf_token": csrf})
    html = (await client.get(page)).text
    assert "Contact Ada Lovelace deleted" in html
    assert "No contacts yet" in html


async def test_a_non_admin_cannot_change_contacts(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_user(runtime, username="crmuser")
    csrf = await log_in(client, "crmuser")
    response = await client.post(
        "/leads/edit/1/contacts",
        data={"first_name": "A", "last_name": "B", "csrf_token": csrf},
    )
    assert response.status_code == 403
    assert (
        await client.post("/leads/notes/1/delete", data={"csrf_token": csrf})
    ).status_code == 403
