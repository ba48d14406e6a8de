"""The license client API as documented, with a real system API key."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import update

from stellwerk.models import LicenseSession
from stellwerk.runtime import Runtime
from tests.license.factories import create_client_config, create_license, create_release

HW = "unique-hardware-identifier"
INVALID_KEY_BODY = {"error": "Invalid or missing API key", "code": "INVALID_API_KEY", "status": 401}


def activation_body(key: str, hw: str = HW) -> dict[str, str]:
    return {
        "license_key": key,
        "hardware_hash": hw,
        "machine_name": "DESKTOP-ABC123",
        "app_version": "1.0.0",
    }


class TestApiKey:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/license/activate"),
            ("POST", "/api/license/verify"),
            ("GET", "/api/license/info/ABCD-ABCD-ABCD-ABCD"),
            ("POST", "/api/license/session/start"),
            ("POST", "/api/license/session/heartbeat"),
            ("POST", "/api/license/session/end"),
            ("POST", "/api/version/check"),
            ("GET", "/api/version/latest"),
            ("GET", "/api/license/public-key"),
        ],
    )
    async def test_missing_key_gets_the_documented_401(
        self, client: httpx.AsyncClient, api_key: str, method: str, path: str
    ) -> None:
        response = await client.request(method, path, json={})
        assert response.status_code == 401
        assert response.json() == INVALID_KEY_BODY

    async def test_wrong_and_rotated_keys_are_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, api_key: str
    ) -> None:
        wrong = await client.get(
            "/api/version/latest", headers={"X-API-Key": "AF-2026-" + "x" * 32}
        )
        assert wrong.json() == INVALID_KEY_BODY
        from tests.factories import create_api_key

        await create_api_key(runtime)  # rotates: the old key stops working at once
        old = await client.get("/api/version/latest", headers={"X-API-Key": api_key})
        assert old.status_code == 401


class TestActivate:
    async def test_documented_shape(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=2)
        response = await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "License activated successfully"
        activation = body["activation"]
        assert activation["license_key"] == lic.license_key
        assert activation["hardware_hash"] == HW
        assert activation["machine_name"] == "DESKTOP-ABC123"
        assert activation["is_active"] is True
        assert activation["activated_at"].endswith("Z")
        assert activation["last_heartbeat"].endswith("Z")
        assert isinstance(activation["id"], int)

    async def test_same_hardware_is_idempotent_and_limit_holds(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=1)
        first = await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        again = await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        assert again.status_code == 200
        assert again.json()["activation"]["id"] == first.json()["activation"]["id"]
        assert again.json()["already_activated"] is True
        other = await client.post(
            "/api/license/activate",
            json=activation_body(lic.license_key, "other-machine"),
            headers=key_headers,
        )
        assert other.status_code == 409
        assert other.json()["code"] == "ACTIVATION_LIMIT_REACHED"
        assert other.json()["status"] == 409

    async def test_deactivated_device_frees_its_seat(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=1)
        await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        gone = await client.post(
            "/api/license/deactivate",
            json={"license_key": lic.license_key, "hardware_hash": HW},
            headers=key_headers,
        )
        assert gone.status_code == 200
        moved = await client.post(
            "/api/license/activate",
            json=activation_body(lic.license_key, "new-machine"),
            headers=key_headers,
        )
        assert moved.status_code == 200

    async def test_activation_rate_limit_per_license(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=1)
        saved = runtime.settings.license_activation_rate_limit
        runtime.settings.license_activation_rate_limit = "2/hour"
        try:
            codes = []
            for _ in range(3):
                activated = await client.post(
                    "/api/license/activate",
                    json=activation_body(lic.license_key),
                    headers=key_headers,
                )
                codes.append(activated.status_code)
                await client.post(
                    "/api/license/deactivate",
                    json={"license_key": lic.license_key, "hardware_hash": HW},
                    headers=key_headers,
                )
        finally:
            runtime.settings.license_activation_rate_limit = saved
        assert codes == [200, 200, 429]

    @pytest.mark.parametrize(
        ("options", "code"),
        [
            ({"is_active": False}, "LICENSE_INACTIVE"),
            (
                {"valid_from": dt.date(2020, 1, 1), "valid_until": dt.date(2021, 1, 1)},
                "LICENSE_EXPIRED",
            ),
            ({"valid_from": dt.date(2999, 1, 1)}, "LICENSE_NOT_YET_VALID"),
        ],
    )
    async def test_unusable_licenses_are_refused(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        key_headers: dict[str, str],
        options: dict[str, object],
        code: str,
    ) -> None:
        lic = await create_license(runtime, **options)
        response = await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        assert response.status_code == 403
        assert response.json()["code"] == code

    async def test_unknown_key_and_bad_input(
        self, client: httpx.AsyncClient, key_headers: dict[str, str]
    ) -> None:
        missing = await client.post(
            "/api/license/activate",
            json=activation_body("ABCD-EFGH-JKMN-PQRS"),
            headers=key_headers,
        )
        assert missing.status_code == 404
        assert missing.json() == {
            "error": "License not found",
            "code": "LICENSE_NOT_FOUND",
            "status": 404,
        }
        bad = await client.post(
            "/api/license/activate", json={"license_key": "nope"}, headers=key_headers
        )
        assert bad.status_code == 422
        assert bad.json()["status"] == 422
        assert bad.json()["code"] == "VALIDATION_ERROR"


class TestVerify:
    async def test_valid_license_documented_shape(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(
            runtime, license_type="subscription", valid_until=dt.date(2999, 1, 1), max_users=10
        )
        await create_release(runtime, "1.0.0")
        await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        response = await client.post(
            "/api/license/verify",
            json={"license_key": lic.license_key, "hardware_hash": HW, "app_version": "1.0.0"},
            headers=key_headers,
        )
        assert response.status_code == 200
        body = response.json()
        assert body["valid"] is True
        assert body["message"] == "License is valid"
        assert body["license"]["key"] == lic.license_key
        assert body["license"]["valid_until"] == "2999-01-01"
        assert body["license"]["max_users"] == 10
        assert body["update_available"] is False
        assert body["latest_version"] == "1.0.0"

    async def test_reasons_for_invalid(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=2)

        async def verify(hw: str = HW, version: str = "1.0.0") -> dict[str, object]:
            response = await client.post(
                "/api/license/verify",
                json={"license_key": lic.license_key, "hardware_hash": hw, "app_version": version},
                headers=key_headers,
            )
            assert response.status_code == 200
            body: dict[str, object] = response.json()
            return body

        not_activated = await verify()
        assert not_activated["valid"] is False
        assert not_activated["reason"] == "not_activated"
        await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        assert (await verify())["valid"] is True
        await create_release(runtime, "2.0.0", min_supported_version="1.5.0")
        old = await verify(version="1.4.9")
        assert old["reason"] == "version_unsupported"
        assert old["update_available"] is True
        assert (await verify(version="1.10.0"))["valid"] is True
        async with runtime.database.session() as session:
            from stellwerk.audit.actor import Actor
            from stellwerk.license import service

            found = await service.license.get(session, lic.id)
            await service.license.update(
                session,
                Actor.system(),
                found,
                changes={"valid_from": dt.date(2020, 1, 1), "valid_until": dt.date(2021, 1, 1)},
            )
        assert (await verify(version="2.0.0"))["reason"] == "expired"

    async def test_unknown_license_is_404(
        self, client: httpx.AsyncClient, key_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/api/license/verify",
            json={"license_key": "ABCD-EFGH-JKMN-PQRS", "hardware_hash": HW},
            headers=key_headers,
        )
        assert response.status_code == 404
        assert response.json()["code"] == "LICENSE_NOT_FOUND"


class TestInfo:
    async def test_documented_shape(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        lic = await create_license(runtime, max_activations=5, max_users=10)
        await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        response = await client.get(f"/api/license/info/{lic.license_key}", headers=key_headers)
        assert response.status_code == 200
        body = response.json()
        assert body["license"]["key"] == lic.license_key
        assert body["license"]["customer_name"].startswith("Customer")
        assert body["license"]["type"] == "perpetual"
        assert body["license"]["max_activations"] == 5
        assert body["license"]["is_active"] is True
        assert [a["hardware_hash"] for a in body["activations"]] == [HW]
        assert (
            await client.get("/api/license/info/not-a-key", headers=key_headers)
        ).status_code == 404


class TestSessions:
    async def _activated(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> str:
        lic = await create_license(runtime, max_users=3)
        await client.post(
            "/api/license/activate", json=activation_body(lic.license_key), headers=key_headers
        )
        return lic.license_key

    def _start(self, key: str) -> dict[str, str]:
        return {
            "license_key": key,
            "machine_id": "DESKTOP-ABC123",
            "hardware_hash": HW,
            "version": "1.0.0",
        }

    async def test_single_session_timeout_and_end(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        key = await self._activated(client, runtime, key_headers)
        first = await client.post(
            "/api/license/session/start", json=self._start(key), headers=key_headers
        )
        assert first.status_code == 200, first.text
        token = first.json()["session_token"]
        assert first.json()["client_name"] == "Account Forger"
        # Before the first release the client config's current version is the latest.
        assert first.json()["latest_version"] == "1.0.0"
        assert first.json()["update_available"] is False
        second = await client.post(
            "/api/license/session/start", json=self._start(key), headers=key_headers
        )
        assert second.status_code == 409
        assert second.json()["error"].startswith("Es ist nur eine Sitzung erlaubt")
        assert second.json()["status"] == 409
        beat = await client.post(
            "/api/license/session/heartbeat",
            json={"session_token": token, "license_key": key},
            headers=key_headers,
        )
        assert beat.status_code == 200
        assert beat.json()["last_heartbeat"].endswith("Z")
        # The client crashes: no heartbeat for longer than the timeout.
        async with runtime.database.session() as session:
            await session.execute(
                update(LicenseSession).values(
                    last_heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
                    started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20),
                )
            )
        again = await client.post(
            "/api/license/session/start", json=self._start(key), headers=key_headers
        )
        assert again.status_code == 200
        late = await client.post(
            "/api/license/session/heartbeat",
            json={"session_token": token, "license_key": key},
            headers=key_headers,
        )
        assert late.status_code == 409
        assert late.json()["end_reason"] == "timeout"
        ended_old = await client.post(
            "/api/license/session/end", json={"session_token": token}, headers=key_headers
        )
        assert ended_old.json()["end_reason"] == "timeout"
        assert ended_old.json()["duration_seconds"] >= 600
        ended = await client.post(
            "/api/license/session/end",
            json={"session_token": again.json()["session_token"]},
            headers=key_headers,
        )
        assert ended.status_code == 200
        assert ended.json()["end_reason"] == "normal"
        assert ended.json()["duration_seconds"] >= 0

    async def test_periodic_expiry(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        from stellwerk.jobs import JOBS

        key = await self._activated(client, runtime, key_headers)
        started = await client.post(
            "/api/license/session/start", json=self._start(key), headers=key_headers
        )
        async with runtime.database.session() as session:
            await session.execute(
                update(LicenseSession).values(
                    last_heartbeat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
                )
            )
        job = next(j for j in JOBS if j.name == "license.sessions_expire")
        await job.run(runtime)
        ended = await client.post(
            "/api/license/session/end",
            json={"session_token": started.json()["session_token"]},
            headers=key_headers,
        )
        assert ended.json()["end_reason"] == "timeout"

    async def test_multi_session_client_obeys_max_users(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        key = await self._activated(client, runtime, key_headers)
        await create_client_config(runtime, "Team App", single_session=False)
        body = {**self._start(key), "client_name": "Team App"}
        codes = [
            (
                await client.post("/api/license/session/start", json=body, headers=key_headers)
            ).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 409]

    async def test_unknown_token_client_and_device(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        key = await self._activated(client, runtime, key_headers)
        unknown = await client.post(
            "/api/license/session/end", json={"session_token": "nope"}, headers=key_headers
        )
        assert unknown.status_code == 404
        no_client = await client.post(
            "/api/license/session/start",
            json={**self._start(key), "client_name": "Nobody"},
            headers=key_headers,
        )
        assert no_client.json()["code"] == "CLIENT_NOT_CONFIGURED"
        other_device = await client.post(
            "/api/license/session/start",
            json={**self._start(key), "hardware_hash": "elsewhere"},
            headers=key_headers,
        )
        assert other_device.status_code == 403
        assert other_device.json()["code"] == "LICENSE_NOT_ACTIVATED"


class TestVersions:
    async def test_semantic_order_check_and_latest(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        none_yet = await client.get("/api/version/latest", headers=key_headers)
        assert none_yet.status_code == 404
        await create_release(runtime, "1.9.0")
        await create_release(runtime, "1.10.0", release_notes="Bug fixes")
        await create_release(runtime, "1.11.0-rc.1", channel="beta")
        latest = await client.get("/api/version/latest", headers=key_headers)
        assert latest.json()["version"] == "1.10.0"
        assert latest.json()["release_date"] == "2026-06-20"
        assert latest.json()["download_url"] == "https://example.com/download/v1.10.0"
        check = await client.post(
            "/api/version/check", json={"current_version": "1.9.0"}, headers=key_headers
        )
        assert check.json()["update_available"] is True
        assert check.json()["latest_version"] == "1.10.0"
        assert check.json()["release_notes"] == "Bug fixes"
        current = await client.post(
            "/api/version/check", json={"current_version": "1.10.0"}, headers=key_headers
        )
        assert current.json()["update_available"] is False
        bad = await client.post(
            "/api/version/check", json={"current_version": "latest"}, headers=key_headers
        )
        assert bad.status_code == 422


class TestClientRateLimit:
    async def test_requests_per_minute_per_client(
        self, client: httpx.AsyncClient, runtime: Runtime, key_headers: dict[str, str]
    ) -> None:
        saved = runtime.settings.license_rate_limit
        runtime.settings.license_rate_limit = "3/minute"
        try:
            codes = [
                (await client.get("/api/version/latest", headers=key_headers)).status_code
                for _ in range(4)
            ]
        finally:
            runtime.settings.license_rate_limit = saved
        assert codes[:3] == [404, 404, 404]
        assert codes[3] == 429
