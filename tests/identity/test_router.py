from __future__ import annotations

import httpx
import pytest

from stellwerk.runtime import Runtime
from tests.factories import (
    DEFAULT_PASSWORD,
    admin_headers,
    bearer,
    create_admin,
    create_staff,
    create_token,
    create_user,
    jwt_for,
)


class TestLogin:
    async def test_login_returns_a_working_jwt(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime, username="alice")
        response = await client.post(
            "/api/auth/login", json={"username": "alice", "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == runtime.settings.jwt_expiry_seconds
        me = await client.get("/api/auth/me", headers=bearer(body["access_token"]))
        assert me.status_code == 200
        assert me.json()["id"] == user.id
        assert me.json()["credential"] == "jwt"
        assert "write:servers" in me.json()["scopes"]
        assert "admin" not in me.json()["scopes"]

    async def test_wrong_password_and_unknown_user_look_the_same(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="bob")
        wrong = await client.post(
            "/api/auth/login", json={"username": "bob", "password": "not-the-password"}
        )
        unknown = await client.post(
            "/api/auth/login", json={"username": "nobody", "password": "not-the-password"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    async def test_sixth_attempt_within_a_minute_is_rate_limited(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        await create_user(runtime, username="carol")
        statuses = []
        for _ in range(6):
            response = await client.post(
                "/api/auth/login", json={"username": "carol", "password": "wrong-password"}
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429]
        assert int(response.headers["retry-after"]) >= 1
        # Even the right password waits now: the account is what is protected.
        right = await client.post(
            "/api/auth/login", json={"username": "carol", "password": DEFAULT_PASSWORD}
        )
        assert right.status_code == 429

    async def test_password_change_voids_earlier_jwts(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime, username="dave")
        old = bearer(jwt_for(runtime, user))
        response = await client.post(
            "/api/auth/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "a-new-long-password"},
            headers=old,
        )
        assert response.status_code == 200
        assert (await client.get("/api/auth/me", headers=old)).status_code == 401
        login = await client.post(
            "/api/auth/login", json={"username": "dave", "password": "a-new-long-password"}
        )
        assert login.status_code == 200

    async def test_garbage_bearer_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/auth/me", headers=bearer("not-a-jwt"))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


class TestTokens:
    async def test_create_list_revoke(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user = await create_user(runtime)
        headers = bearer(jwt_for(runtime, user))
        created = await client.post(
            "/api/tokens", json={"name": "ci", "scopes": ["read:domains"]}, headers=headers
        )
        assert created.status_code == 201
        token = created.json()["token"]
        assert token.startswith("nrx_")
        assert len(token) == 68
        listed = await client.get("/api/tokens", headers=headers)
        assert listed.json()["total"] == 1
        assert "token" not in listed.json()["items"][0]
        assert token not in listed.text
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        revoked = await client.delete(f"/api/tokens/{created.json()['id']}", headers=headers)
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401

    async def test_missing_scope_has_the_exact_body(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_admin(runtime)
        token = await create_token(runtime, user, ["read:domains"])
        response = await client.get("/api/admin/users", headers=bearer(token))
        assert response.status_code == 403
        assert response.json() == {
            "error": "forbidden",
            "code": "missing_scope",
            "required": "admin",
            "detail": "This credential lacks the scope admin",
        }

    async def test_unknown_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/auth/me", headers=bearer("nrx_" + "ab" * 32))
        assert response.status_code == 401

    async def test_a_user_cannot_grant_scopes_they_do_not_hold(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        response = await client.post(
            "/api/tokens",
            json={"name": "x", "scopes": ["read:licenses"]},
            headers=bearer(jwt_for(runtime, user)),
        )
        assert response.status_code == 403
        assert response.json()["code"] == "scope_not_held"

    async def test_a_token_cannot_mint_a_broader_token(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await create_admin(runtime)
        narrow = await create_token(runtime, admin, ["read:domains"])
        response = await client.post(
            "/api/tokens", json={"name": "x", "scopes": ["write:domains"]}, headers=bearer(narrow)
        )
        assert response.status_code == 403

    async def test_unknown_scope_and_past_expiry_are_validation_errors(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        unknown = await client.post(
            "/api/tokens", json={"name": "x", "scopes": ["read:everything"]}, headers=headers
        )
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "scopes"
        past = await client.post(
            "/api/tokens",
            json={"name": "x", "scopes": ["read:domains"], "expires_at": "2001-01-01T00:00:00Z"},
            headers=headers,
        )
        assert past.status_code == 422

    async def test_users_see_only_their_tokens(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        alice = await create_user(runtime)
        bob = await create_user(runtime)
        await create_token(runtime, alice, ["read:domains"])
        bob_token_id = (
            await client.post(
                "/api/tokens",
                json={"name": "b", "scopes": ["read:domains"]},
                headers=bearer(jwt_for(runtime, bob)),
            )
        ).json()["id"]
        alice_headers = bearer(jwt_for(runtime, alice))
        assert (await client.get("/api/tokens", headers=alice_headers)).json()["total"] == 1
        response = await client.delete(f"/api/tokens/{bob_token_id}", headers=alice_headers)
        assert response.status_code == 404

    async def test_token_rate_limit(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        admin = await create_admin(runtime)
        token = await create_token(runtime, admin, ["read:domains"])
        limit = int(runtime.settings.token_rate_limit.split("/")[0])
        for _ in range(limit):
            assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        response = await client.get("/api/auth/me", headers=bearer(token))
        assert response.status_code == 429
        assert "retry-after" in response.headers


class TestAdminUsersAndApiKey:
    async def test_non_admin_gets_403(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user = await create_user(runtime)
        response = await client.get("/api/admin/users", headers=bearer(jwt_for(runtime, user)))
        assert response.status_code == 403

    async def test_admin_manages_users(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await admin_headers(runtime)
        created = await client.post(
            "/api/admin/users",
            json={"username": "erin", "password": "long-enough-password"},
            headers=headers,
        )
        assert created.status_code == 201
        assert "password" not in created.text
        duplicate = await client.post(
            "/api/admin/users",
            json={"username": "erin", "password": "long-enough-password"},
            headers=headers,
        )
        assert duplicate.status_code == 409
        short = await client.post(
            "/api/admin/users", json={"username": "frank", "password": "short"}, headers=headers
        )
        assert short.status_code == 422
        assert short.json()["field"] == "password"
        user_id = created.json()["id"]
        updated = await client.put(
            f"/api/admin/users/{user_id}", json={"role": "admin"}, headers=headers
        )
        assert updated.json()["role"] == "admin"
        assert (
            await client.delete(f"/api/admin/users/{user_id}", headers=headers)
        ).status_code == 204

    async def test_roles_quota_and_the_earlier_user_role(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        headers = await admin_headers(runtime)
        created = await client.post(
            "/api/admin/users",
            json={"username": "newcomer", "password": "long-enough-password"},
            headers=headers,
        )
        assert (created.json()["role"], created.json()["server_quota"]) == ("customer", None)
        legacy = await client.post(
            "/api/admin/users",
            json={"username": "legacy", "password": "long-enough-password", "role": "user"},
            headers=headers,
        )
        assert legacy.json()["role"] == "customer"
        bad = await client.post(
            "/api/admin/users",
            json={"username": "boss", "password": "long-enough-password", "role": "owner"},
            headers=headers,
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "role"
        user_id = created.json()["id"]
        quota = await client.put(
            f"/api/admin/users/{user_id}", json={"server_quota": 2}, headers=headers
        )
        assert quota.json()["server_quota"] == 2
        reset = await client.put(
            f"/api/admin/users/{user_id}", json={"server_quota": None}, headers=headers
        )
        assert reset.json()["server_quota"] is None
        negative = await client.put(
            f"/api/admin/users/{user_id}", json={"server_quota": -1}, headers=headers
        )
        assert negative.status_code == 422

    async def test_a_role_change_applies_to_existing_tokens_at_once(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await admin_headers(runtime)
        staff = await create_staff(runtime)
        token = bearer(await create_token(runtime, staff, ["read:licenses", "read:servers"]))
        assert (await client.get("/api/licenses", headers=token)).status_code == 200
        demoted = await client.put(
            f"/api/admin/users/{staff.id}", json={"role": "customer"}, headers=admin
        )
        assert demoted.status_code == 200
        refused = await client.get("/api/licenses", headers=token)
        assert refused.status_code == 403
        assert refused.json()["required"] == "read:licenses"
        assert (await client.get("/api/vps", headers=token)).status_code == 200
        me = (await client.get("/api/auth/me", headers=token)).json()
        assert (me["role"], me["scopes"]) == ("customer", ["read:servers"])

    async def test_a_user_can_be_renamed(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        headers = await admin_headers(runtime)
        user = await create_user(runtime, username="grace")
        await create_user(runtime, username="heidi")
        path = f"/api/admin/users/{user.id}"
        renamed = await client.put(path, json={"username": "grace.h"}, headers=headers)
        assert (renamed.status_code, renamed.json()["username"]) == (200, "grace.h")
        assert (await client.get(path, headers=headers)).json()["username"] == "grace.h"
        login = await client.post(
            "/api/auth/login", json={"username": "grace.h", "password": DEFAULT_PASSWORD}
        )
        assert login.status_code == 200
        taken = await client.put(path, json={"username": "HEIDI"}, headers=headers)
        assert (taken.status_code, taken.json()["code"], taken.json()["field"]) == (
            409,
            "username_taken",
            "username",
        )
        invalid = await client.put(path, json={"username": "-no spaces"}, headers=headers)
        assert (invalid.status_code, invalid.json()["field"]) == (422, "username")
        unknown = await client.put(path, json={"user_name": "x"}, headers=headers)
        assert (unknown.status_code, unknown.json()["field"]) == (422, "user_name")
        assert (await client.get(path, headers=headers)).json()["username"] == "grace.h"
        audit = (await client.get("/api/admin/audit", headers=headers)).json()["items"]
        assert any(e["detail"].get("username") == "grace.h" for e in audit)

    async def test_the_last_admin_stays(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        admin = await create_admin(runtime)
        other = await create_admin(runtime)
        headers = bearer(jwt_for(runtime, admin))
        assert (
            await client.delete(f"/api/admin/users/{other.id}", headers=headers)
        ).status_code == 204
        response = await client.put(
            f"/api/admin/users/{admin.id}", json={"role": "user"}, headers=headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "last_admin"

    async def test_rotate_api_key_invalidates_the_old_one(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        from stellwerk.identity import service as identity_service

        headers = await admin_headers(runtime)
        first = (await client.post("/api/admin/api-key/rotate", headers=headers)).json()["api_key"]
        second = (await client.post("/api/admin/api-key/rotate", headers=headers)).json()["api_key"]
        assert first != second
        for key in (first, second):
            assert key.startswith("AF-")
            assert len(key) == len("AF-2026-") + 32
        async with runtime.database.session() as session:
            assert not await identity_service.system_api_key.verify(session, first)
            assert await identity_service.system_api_key.verify(session, second)
        info = await client.get("/api/admin/api-key", headers=headers)
        assert info.json()["prefix"] == second[:12]
        assert second not in info.text

    async def test_audit_log_records_who_did_what(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        admin = await create_admin(runtime, username="auditor")
        headers = bearer(jwt_for(runtime, admin))
        await client.post("/api/tokens", json={"name": "t", "scopes": ["admin"]}, headers=headers)
        events = (await client.get("/api/admin/audit?action=token", headers=headers)).json()
        assert events["total"] == 1
        event = events["items"][0]
        assert event["action"] == "token.create"
        assert event["actor_name"] == "auditor"
        assert event["credential"] == "jwt"
        assert event["ip"] == "127.0.0.1"


@pytest.mark.parametrize("path", ["/api/tokens", "/api/admin/users", "/api/operations"])
async def test_anonymous_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
