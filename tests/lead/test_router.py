from __future__ import annotations

import httpx

from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token


async def _institution(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, **extra: str
) -> int:
    created = await client.post(
        "/leads/api/institutions", json={"name": name, **extra}, headers=admin
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_institutions_documented_shape(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/leads/api/institutions", json={"name": "New University"}, headers=admin
    )
    assert created.status_code == 201
    assert created.json()["name"] == "New University"
    assert created.json()["created_at"].endswith("Z")
    duplicate = await client.post(
        "/leads/api/institutions", json={"name": "new university"}, headers=admin
    )
    assert duplicate.status_code == 409
    blank = await client.post("/leads/api/institutions", json={"name": "  "}, headers=admin)
    assert blank.status_code == 422
    for number in range(3):
        await _institution(client, admin, f"Tech University {number}", type="university")
    page = (
        await client.get("/leads/api/institutions?page=2&per_page=2&search=tech", headers=admin)
    ).json()
    assert page["total"] == 3
    assert page["page"] == 2
    assert page["per_page"] == 2
    assert [i["name"] for i in page["institutions"]] == ["Tech University 2"]
    assert page["institutions"][0]["contact_count"] == 0


async def test_contacts_details_and_versioned_notes(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    institution_id = await _institution(client, admin, "Tech University")
    created = await client.post(
        "/leads/api/contacts",
        json={
            "institution_id": institution_id,
            "first_name": "John",
            "last_name": "Doe",
            "position": "IT Manager",
            "details": [{"type": "email", "value": "john.doe@example.com", "label": "Work"}],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    phone = await client.post(
        f"/leads/api/contacts/{contact_id}/details",
        json={"type": "phone", "value": "+49 123 456789", "label": "Mobile"},
        headers=admin,
    )
    assert phone.status_code == 201
    assert phone.json()["label"] == "Mobile"
    bad = await client.post(
        f"/leads/api/contacts/{contact_id}/details",
        json={"type": "email", "value": "not-an-email"},
        headers=admin,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "value")
    note = await client.post(
        f"/leads/api/contacts/{contact_id}/notes",
        json={"content": "Initial contact"},
        headers=admin,
    )
    assert note.json()["version"] == 1
    edited = await client.put(
        f"/leads/api/notes/{note.json()['id']}", json={"content": "Call back in May"}, headers=admin
    )
    assert edited.json()["version"] == 2
    contact = (await client.get(f"/leads/api/contacts/{contact_id}", headers=admin)).json()
    assert contact["first_name"] == "John"
    assert contact["position"] == "IT Manager"
    assert contact["institution_id"] == institution_id
    assert [(d["type"], d["label"]) for d in contact["details"]] == [
        ("email", "Work"),
        ("phone", "Mobile"),
    ]
    assert len(contact["notes"]) == 1
    assert contact["notes"][0]["content"] == "Call back in May"
    assert contact["notes"][0]["created_by"].startswith("admin")
    history = (
        await client.get(f"/leads/api/notes/{note.json()['id']}/versions", headers=admin)
    ).json()
    assert [v["content"] for v in history["versions"]] == ["Initial contact", "Call back in May"]
    listed = (
        await client.get(f"/leads/api/contacts?institution_id={institution_id}", headers=admin)
    ).json()
    assert listed["total"] == 1
    assert (await client.get("/leads/api/contacts/999", headers=admin)).json()["status"] == 404
    assert (
        await client.delete(f"/leads/api/institutions/{institution_id}", headers=admin)
    ).status_code == 200
    assert (await client.get(f"/leads/api/contacts/{contact_id}", headers=admin)).status_code == 404


async def test_a_new_contacts_details_are_checked_by_field(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    institution_id = await _institution(client, admin, "Field University")
    contact = {"institution_id": institution_id, "first_name": "Ada", "last_name": "L"}
    bad = await client.post(
        "/leads/api/contacts",
        json={**contact, "details": [{"type": "email", "value": "nope"}]},
        headers=admin,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "details.0.value")
    # A contact is Stellwerk's own entity: what it does not know is refused, by name.
    unknown = await client.post(
        "/leads/api/contacts",
        json={**contact, "details": [{"type": "phone", "value": "+49 1", "kind": "x"}]},
        headers=admin,
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "details.0.kind")
    created = await client.post("/leads/api/contacts", json=contact, headers=admin)
    # The documented detail body keeps accepting what the document does not name.
    extra = await client.post(
        f"/leads/api/contacts/{created.json()['id']}/details",
        json={"type": "email", "value": "ada@example.com", "primary": True},
        headers=admin,
    )
    assert extra.status_code == 201, extra.text


async def test_stats(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await _institution(client, admin, "A", type="university", status="won")
    await _institution(client, admin, "B", type="company")
    await _institution(client, admin, "C", type="company")
    await _institution(client, admin, "D", type="government")
    stats = (await client.get("/leads/api/stats", headers=admin)).json()
    assert stats["total_institutions"] == 4
    assert stats["total_contacts"] == 0
    assert stats["recent_activities"] == 4
    assert stats["conversion_rate"] == 25.0
    assert stats["by_type"] == {"university": 1, "company": 2, "government": 1, "other": 0}


async def test_scopes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await create_admin(runtime)
    reader = bearer(await create_token(runtime, admin, ["read:leads"]))
    assert (await client.get("/leads/api/stats", headers=reader)).status_code == 200
    refused = await client.post("/leads/api/institutions", json={"name": "X"}, headers=reader)
    assert refused.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": "write:leads",
        "status": 403,
    }
    assert (await client.get("/leads/api/stats")).status_code == 401
