"""The admin panel's license, device, release and client-config endpoints."""

from __future__ import annotations

import re

import httpx

from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for
from tests.license.factories import create_customer, create_license

KEY_PATTERN = re.compile(r"^[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}$")


class TestAccess:
    async def test_login_or_scopes_are_needed(
        self, client: httpx.AsyncClient, runtime: Runtime, api_key: str
    ) -> None:
        anonymous = await client.get("/api/licenses")
        assert anonymous.status_code == 401
        assert anonymous.json()["status"] == 401
        # The system API key is for license clients, not for the admin panel.
        assert (
            await client.get("/api/licenses", headers={"X-API-Key": api_key})
        ).status_code == 401
        user = await create_user(runtime)
        refused = await client.get("/api/licenses", headers=bearer(jwt_for(runtime, user)))
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "forbidden",
            "code": "missing_scope",
            "required": "read:licenses",
            "status": 403,
        }
        admin = await create_admin(runtime)
        reader = await create_token(runtime, admin, ["read:licenses"])
        assert (await client.get("/api/licenses", headers=bearer(reader))).status_code == 200
        write = await client.post("/api/generate-license-key", headers=bearer(reader))
        assert write.json()["required"] == "write:licenses"


class TestLicenses:
    async def test_crud_and_generated_keys(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
    ) -> None:
        customer = await create_customer(runtime, name="ACME Corp")
        generated = await client.post("/api/generate-license-key", headers=admin)
        assert KEY_PATTERN.fullmatch(generated.json()["license_key"])
        created = await client.post(
            "/api/licenses",
            json={
                "customer_id": customer.id,
                "license_type": "subscription",
                "valid_from": "2025-01-01",
                "valid_until": "2027-01-01",
                "max_activations": 5,
                "max_users": 10,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert KEY_PATTERN.fullmatch(body["license_key"])
        assert body["customer_name"] == "ACME Corp"
        duplicate = await client.post(
            "/api/licenses",
            json={"customer_id": customer.id, "license_key": body["license_key"]},
            headers=admin,
        )
        assert duplicate.status_code == 409
        listed = await client.get("/api/licenses?search=acme&per_page=5", headers=admin)
        assert listed.json()["total"] == 1
        assert listed.json()["items"][0]["id"] == body["id"]
        updated = await client.put(
            f"/api/licenses/{body['id']}", json={"notes": "VIP"}, headers=admin
        )
        assert updated.json()["notes"] == "VIP"
        assert (await client.get(f"/api/licenses/{body['id']}", headers=admin)).status_code == 200
        assert (
            await client.delete(f"/api/licenses/{body['id']}", headers=admin)
        ).status_code == 200
        assert (await client.get(f"/api/licenses/{body['id']}", headers=admin)).status_code == 404

    async def test_type_is_another_name_for_license_type(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
    ) -> None:
        # The license server's own answers call it `type`; a client may send that name.
        customer = await create_customer(runtime)
        body = {"customer_id": customer.id, "valid_until": "2030-01-01"}
        created = await client.post(
            "/api/licenses", json={**body, "type": "subscription"}, headers=admin
        )
        assert created.status_code == 201, created.text
        assert created.json()["license_type"] == "subscription"
        license_id = created.json()["id"]
        updated = await client.put(
            f"/api/licenses/{license_id}", json={"type": "trial"}, headers=admin
        )
        assert updated.json()["license_type"] == "trial"
        both = await client.post(
            "/api/licenses",
            json={**body, "type": "trial", "license_type": "trial"},
            headers=admin,
        )
        assert both.json()["license_type"] == "trial"
        differing = await client.post(
            "/api/licenses",
            json={**body, "type": "trial", "license_type": "perpetual"},
            headers=admin,
        )
        assert (differing.status_code, differing.json()["field"]) == (422, "type")
        unknown = await client.post(
            "/api/licenses", json={**body, "licence_type": "trial"}, headers=admin
        )
        assert (unknown.status_code, unknown.json()["field"]) == (422, "licence_type")
        listed = (await client.get("/api/licenses", headers=admin)).json()
        assert listed["total"] == 2

    async def test_validation(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
    ) -> None:
        customer = await create_customer(runtime)
        no_end = await client.post(
            "/api/licenses",
            json={"customer_id": customer.id, "license_type": "subscription"},
            headers=admin,
        )
        assert no_end.status_code == 422
        assert no_end.json()["field"] == "valid_until"
        no_customer = await client.post("/api/licenses", json={"customer_id": 999}, headers=admin)
        assert no_customer.status_code == 422
        trial = await client.post(
            "/api/licenses",
            json={"customer_id": customer.id, "license_type": "trial"},
            headers=admin,
        )
        assert trial.json()["valid_until"] is not None
        trial_id = trial.json()["id"]
        for change in ({"valid_until": None}, {"customer_id": None}, {"max_users": 0}):
            refused = await client.put(f"/api/licenses/{trial_id}", json=change, headers=admin)
            assert refused.status_code == 422, change
        backwards = await client.put(
            f"/api/licenses/{trial_id}",
            json={"valid_from": "2030-01-02", "valid_until": "2030-01-01"},
            headers=admin,
        )
        assert backwards.status_code == 422
        assert backwards.json()["field"] == "valid_until"

    async def test_toggle_quick_edit_and_bulk(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
    ) -> None:
        first = await create_license(runtime)
        second = await create_license(runtime)
        toggled = await client.post(f"/api/license/{first.id}/toggle", headers=admin)
        assert toggled.json() == {
            "success": True,
            "is_active": False,
            "message": "License deactivated",
        }
        edited = await client.post(
            f"/api/license/{first.id}/quick-edit",
            json={"valid_until": "2027-01-01", "max_activations": 10, "max_users": 50},
            headers=admin,
        )
        assert edited.json() == {"success": True, "message": "License updated successfully"}
        got = (await client.get(f"/api/licenses/{first.id}", headers=admin)).json()
        assert (got["valid_until"], got["max_activations"], got["max_users"]) == (
            "2027-01-01",
            10,
            50,
        )
        ids = {"license_ids": [first.id, second.id]}
        activated = await client.post("/api/licenses/bulk-activate", json=ids, headers=admin)
        assert activated.json()["affected"] == 1
        deactivated = await client.post("/api/licenses/bulk-deactivate", json=ids, headers=admin)
        assert deactivated.json()["affected"] == 2
        missing = await client.post(
            "/api/licenses/bulk-delete", json={"license_ids": [first.id, 999]}, headers=admin
        )
        assert missing.status_code == 404
        assert missing.json()["missing_ids"] == [999]
        deleted = await client.post("/api/licenses/bulk-delete", json=ids, headers=admin)
        assert deleted.json()["affected"] == 2
        assert (await client.get("/api/licenses", headers=admin)).json()["total"] == 0
        audit = await client.get("/api/admin/audit?action=license.bulk_delete", headers=admin)
        events = audit.json()["items"]
        assert len(events) == 1
        assert events[0]["actor_name"].startswith("admin")

    async def test_devices(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=1)
        registered = await client.post(
            f"/api/license/{lic.id}/register-device",
            json={
                "hardware_hash": "unique-hardware-identifier",
                "machine_name": "DESKTOP-XYZ789",
                "app_version": "1.0.0",
            },
            headers=admin,
        )
        assert registered.json()["success"] is True
        assert registered.json()["message"] == "Device registered successfully"
        device_id = registered.json()["device_id"]
        full = await client.post(
            f"/api/license/{lic.id}/register-device",
            json={"hardware_hash": "second"},
            headers=admin,
        )
        assert full.status_code == 409
        devices = (await client.get(f"/api/license/{lic.id}/devices", headers=admin)).json()
        assert devices["devices"][0]["machine_name"] == "DESKTOP-XYZ789"
        assert devices["devices"][0]["app_version"] == "1.0.0"
        gone = await client.post(
            f"/api/license/{lic.id}/deactivate-device/{device_id}", headers=admin
        )
        assert gone.json() == {"success": True, "message": "Device deactivated successfully"}
        again = await client.post(
            f"/api/license/{lic.id}/register-device",
            json={"hardware_hash": "second"},
            headers=admin,
        )
        assert again.status_code == 200
        unknown = await client.post(f"/api/license/{lic.id}/deactivate-device/999", headers=admin)
        assert unknown.status_code == 404


class TestReleasesAndClientConfigs:
    async def test_release_crud(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        created = await client.post(
            "/api/releases",
            json={
                "version": "1.1.0",
                "release_date": "2025-06-20",
                "download_url": "https://example.com/download/v1.1.0",
                "release_notes": "Bug fixes and performance improvements",
                "min_supported_version": "1.0.0",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        release_id = created.json()["id"]
        again = await client.post("/api/releases", json={"version": "1.1.0"}, headers=admin)
        assert again.status_code == 409
        bad = await client.post("/api/releases", json={"version": "one"}, headers=admin)
        assert bad.status_code == 422
        listed = await client.get("/api/releases", headers=admin)
        assert listed.json()["total"] == 1
        updated = await client.put(
            f"/api/releases/{release_id}", json={"release_notes": "Notes"}, headers=admin
        )
        assert updated.json()["release_notes"] == "Notes"
        assert (
            await client.delete(f"/api/releases/{release_id}", headers=admin)
        ).status_code == 200

    async def test_client_configs(
        self, client: httpx.AsyncClient, admin: dict[str, str], api_key: str
    ) -> None:
        listed = (await client.get("/api/client-configs", headers=admin)).json()
        default = next(c for c in listed["items"] if c["name"] == "Account Forger")
        refused = await client.delete(f"/api/client-configs/{default['id']}", headers=admin)
        assert refused.status_code == 409
        created = await client.post(
            "/api/client-configs",
            json={"name": "Other", "heartbeat_interval": 10, "session_timeout": 30},
            headers=admin,
        )
        assert created.status_code == 201
        wrong = await client.put(
            f"/api/client-configs/{created.json()['id']}",
            json={"session_timeout": 5},
            headers=admin,
        )
        assert wrong.status_code == 422
        assert (
            await client.delete(f"/api/client-configs/{created.json()['id']}", headers=admin)
        ).status_code == 200
