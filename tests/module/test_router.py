"""The documented module manager API, on the built-in repository and the process runtime."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, jwt_for
from tests.module.factories import install, wait_operation

HEX32 = set("0123456789abcdef")


class TestSeedExamples:
    async def test_repository_list_shows_the_builtin_demo(
        self, client: httpx.AsyncClient, token_headers: dict[str, str]
    ) -> None:
        response = await client.get("/repository/list", headers=token_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        builtin = next(r for r in body["repositories"] if r["id"] == "local-module-repository")
        assert builtin["modules"] == ["v2_dashboard"]
        assert builtin["module_count"] == 1
        assert builtin["installed_count"] == 0
        assert builtin["error"] is None
        assert body["total_modules"] >= 1

    async def test_install_instance_as_documented(
        self, client: httpx.AsyncClient, token_headers: dict[str, str], runtime: Runtime
    ) -> None:
        response = await client.post(
            "/modules/install-instance",
            json={
                "module_name": "v2_dashboard",
                "repository_id": "local-module-repository",
                "version": "0.1.0",
            },
            headers=token_headers,
        )
        assert response.status_code == 202, response.text
        started = response.json()
        assert set(started) == {
            "operation_id",
            "status",
            "progress",
            "message",
            "module_name",
            "status_url",
            "prompts",  # the questions a waiting operation asks; empty otherwise
        }
        assert started["prompts"] == []
        assert started["status"] == "queued"
        assert started["module_name"] == "v2_dashboard"
        assert started["status_url"] == f"/modules/status/{started['operation_id']}"
        final = await wait_operation(client, token_headers, started["operation_id"])
        assert final["status"] == "completed", final
        assert final["progress"] == 100

        listing = (await client.get("/modules/instances", headers=token_headers)).json()
        assert listing["total"] == 1
        group = listing["modules"][0]
        assert group["module_name"] == "v2_dashboard"
        instance = group["instances"][0]
        assert set(instance) == {
            "instance_id",
            "path",
            "version",
            "status",
            "is_primary",
            "frontend_url",
            "created_at",
            "updated_at",
        }
        assert len(instance["instance_id"]) == 32
        assert set(instance["instance_id"]) <= HEX32
        assert instance["path"] == f"/modules/v2_dashboard_{instance['instance_id']}"
        assert instance["version"] == "0.1.0"
        assert instance["status"] == "running"
        assert instance["is_primary"] is True
        assert instance["frontend_url"] == "/v2_dashboard/"
        assert instance["created_at"].endswith("Z")
        directory = (
            runtime.settings.resolved_modules_root / f"v2_dashboard_{instance['instance_id']}"
        )
        assert (directory / "module.json").is_file()
        assert (directory / "www" / "index.html").is_file()

    async def test_the_minimal_curl_example_installs(
        self, client: httpx.AsyncClient, token_headers: dict[str, str]
    ) -> None:
        started, final = await install(client, token_headers, "v2_dashboard")
        assert final["status"] == "completed", final
        status = await client.get(started["status_url"], headers=token_headers)
        assert status.json()["message"] == "Completed"

    async def test_the_demo_module_serves_its_page(
        self, client: httpx.AsyncClient, token_headers: dict[str, str], runtime: Runtime
    ) -> None:
        _, final = await install(client, token_headers, "v2_dashboard")
        assert final["status"] == "completed"
        async with runtime.database.session() as session:
            (instance,) = await ModuleInstanceRepository(session).list()
        port = instance.runtime_state["port"]
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/index.html")
        assert page.status_code == 200
        assert "V2 Dashboard" in page.text


class TestAuth:
    async def test_no_credential_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/modules/instances")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert set(response.json()) >= {"error", "code", "detail"}

    async def test_missing_scope_is_403(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user = await create_admin(runtime)
        reader = bearer(await create_token(runtime, user, ["read:modules"]))
        assert (await client.get("/modules/instances", headers=reader)).status_code == 200
        response = await client.post(
            "/modules/install-instance", json={"module_name": "v2_dashboard"}, headers=reader
        )
        assert response.status_code == 403
        assert response.json() == {
            "error": "forbidden",
            "code": "missing_scope",
            "required": "write:modules",
            "detail": "This credential lacks the scope write:modules",
        }
        writer = bearer(await create_token(runtime, user, ["write:modules"]))
        denied = await client.get("/repository/list", headers=writer)
        assert denied.json()["required"] == "read:modules"

    async def test_a_login_jwt_works(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        user = await create_admin(runtime)
        response = await client.get("/repository/modules", headers=bearer(jwt_for(runtime, user)))
        assert response.status_code == 200


class TestValidation:
    async def test_bad_module_names_are_refused(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        for name in ("../etc", "a b", "x" * 65, "mod.ule"):
            response = await client.post(
                "/modules/install-instance", json={"module_name": name}, headers=modules_headers
            )
            assert response.status_code == 422, name
            assert response.json()["error"] == "validation_error"
            assert response.json()["field"] == "module_name"
        response = await client.get("/modules/primary/bad.name", headers=modules_headers)
        assert response.status_code == 422
        response = await client.get("/api/modules/bad.name", headers=modules_headers)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_name"

    async def test_bad_instance_ids_are_refused(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        for instance_id in ("123", "G" * 32, "A" * 32, "0" * 31 + "."):
            response = await client.get(
                f"/modules/instance/v2_dashboard/{instance_id}", headers=modules_headers
            )
            assert response.status_code in (404, 422), instance_id
        response = await client.delete(
            "/modules/instance/v2_dashboard/" + "z" * 32, headers=modules_headers
        )
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_instance_id"

    async def test_unknown_things_are_404(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        missing = await client.post(
            "/modules/install-instance", json={"module_name": "nope"}, headers=modules_headers
        )
        assert missing.status_code == 404
        assert missing.json()["code"] == "module_not_found"
        version = await client.post(
            "/modules/install-instance",
            json={"module_name": "v2_dashboard", "version": "9.9.9"},
            headers=modules_headers,
        )
        assert version.status_code == 404
        assert version.json()["code"] == "version_not_found"
        repository = await client.post(
            "/modules/install-instance",
            json={"module_name": "v2_dashboard", "repository_id": "nowhere"},
            headers=modules_headers,
        )
        assert repository.status_code == 404
        assert repository.json()["code"] == "repository_not_found"
        assert (
            await client.get("/modules/instance/v2_dashboard/" + "a" * 32, headers=modules_headers)
        ).status_code == 404
        assert (
            await client.get("/modules/primary/v2_dashboard", headers=modules_headers)
        ).status_code == 404
        status = await client.get(
            "/modules/status/00000000-0000-0000-0000-000000000000", headers=modules_headers
        )
        assert status.status_code == 404
        bad = await client.get("/modules/status/not-a-uuid", headers=modules_headers)
        assert bad.status_code == 404
        assert (
            await client.delete("/repository/uninstall/v2_dashboard", headers=modules_headers)
        ).status_code == 404

    async def test_fields_the_document_does_not_name_are_ignored(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        # Existing clients may send more than the document shows; nothing of it is used.
        _, final = await install(client, modules_headers, "v2_dashboard", path="/etc")
        assert final["status"] == "completed", final
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing["modules"][0]["instances"][0]["path"].startswith("/modules/v2_dashboard_")


class TestInstances:
    async def test_primary_rules(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        ids = []
        for _ in range(3):
            _, final = await install(client, modules_headers, "v2_dashboard")
            assert final["status"] == "completed", final
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        instances = listing["modules"][0]["instances"]
        ids = [i["instance_id"] for i in instances]
        assert [i["is_primary"] for i in instances] == [True, False, False]
        assert listing["modules"][0]["primary_instance_id"] == ids[0]

        primary = await client.get("/modules/primary/v2_dashboard", headers=modules_headers)
        assert primary.json()["instance_id"] == ids[0]
        legacy = await client.get("/api/modules/v2_dashboard", headers=modules_headers)
        assert legacy.json()["instance_id"] == ids[0]

        moved = await client.post(
            f"/modules/primary/v2_dashboard/{ids[2]}", headers=modules_headers
        )
        assert moved.status_code == 200
        assert moved.json()["is_primary"] is True
        primary = await client.get("/modules/primary/v2_dashboard", headers=modules_headers)
        assert primary.json()["instance_id"] == ids[2]

        # Deleting the primary promotes the instance the request names (without one, the
        # operation asks which: see tests/module/test_prompts.py).
        deleted = await client.delete(
            f"/modules/instance/v2_dashboard/{ids[2]}?new_primary={ids[0]}",
            headers=modules_headers,
        )
        assert deleted.status_code == 202
        assert (await wait_operation(client, modules_headers, deleted.json()["operation_id"]))[
            "status"
        ] == "completed"
        primary = await client.get("/modules/primary/v2_dashboard", headers=modules_headers)
        assert primary.json()["instance_id"] == ids[0]
        root = runtime.settings.resolved_modules_root
        assert not (root / f"v2_dashboard_{ids[2]}").exists()
        assert (root / f"v2_dashboard_{ids[0]}").is_dir()
        gone = await client.get(f"/modules/instance/v2_dashboard/{ids[2]}", headers=modules_headers)
        assert gone.status_code == 404

    async def test_delete_stops_the_process_and_removes_files(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        _, final = await install(client, modules_headers, "v2_dashboard")
        async with runtime.database.session() as session:
            (instance,) = await ModuleInstanceRepository(session).list()
        pid = instance.runtime_state["pid"]
        assert _alive(pid)
        response = await client.delete(
            f"/modules/instance/v2_dashboard/{instance.id}", headers=modules_headers
        )
        final = await wait_operation(client, modules_headers, response.json()["operation_id"])
        assert final["status"] == "completed"
        assert not (runtime.settings.resolved_modules_root / f"v2_dashboard_{instance.id}").exists()
        assert not _alive(pid)
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing == {"modules": [], "total": 0}

    async def test_a_stopped_process_shows_as_stopped(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        await install(client, modules_headers, "v2_dashboard")
        async with runtime.database.session() as session:
            (instance,) = await ModuleInstanceRepository(session).list()
        os.kill(instance.runtime_state["pid"], signal.SIGKILL)
        for _ in range(50):
            body = (
                await client.get(
                    f"/modules/instance/v2_dashboard/{instance.id}", headers=modules_headers
                )
            ).json()
            if body["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert body["status"] in ("stopped", "error")

    async def test_legacy_routes(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        response = await client.post("/api/install/v2_dashboard", headers=modules_headers)
        assert response.status_code == 202
        assert response.json()["status_url"].startswith("/modules/status/")
        final = await wait_operation(client, modules_headers, response.json()["operation_id"])
        assert final["status"] == "completed"
        listing = (await client.get("/api/modules", headers=modules_headers)).json()
        (module,) = listing["modules"]
        assert module["name"] == "v2_dashboard"
        assert module["instance_count"] == 1
        assert module["primary_instance"]["is_primary"] is True

    async def test_idempotency_key_returns_the_same_operation(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        headers = {**modules_headers, "Idempotency-Key": "install-once"}
        first = await client.post(
            "/modules/install-instance", json={"module_name": "v2_dashboard"}, headers=headers
        )
        second = await client.post(
            "/modules/install-instance", json={"module_name": "v2_dashboard"}, headers=headers
        )
        assert first.json()["operation_id"] == second.json()["operation_id"]
        await wait_operation(client, modules_headers, first.json()["operation_id"])
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing["total"] == 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
