"""Where modules come from: checksum pins, no shadowing between repositories, and who sees which
module operation."""

from __future__ import annotations

import uuid

import httpx

from stellwerk.audit.actor import Actor
from stellwerk.models import Operation
from stellwerk.module import workflow
from stellwerk.module.pins import module_pin
from stellwerk.module.repository import ModuleInstanceRepository, ModuleRepositoryRepository
from stellwerk.module.sources import RepositorySource
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.service import operation as operation_service
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token, create_user, jwt_for
from tests.module.factories import RepositoryDir, archive_bytes, install, manifest, wait_operation

BUILTIN = "local-module-repository"


def _rebuild(repository: RepositoryDir, name: str, version: str, extra: bytes) -> None:
    """Publish a different archive under a version that exists, with an index that agrees."""
    repository.modules[name]["versions"] = [
        v for v in repository.modules[name]["versions"] if v["version"] != version
    ]
    repository.add(name, version, archive_bytes(manifest(name, version), {"EXTRA": extra}))


class TestChecksumPins:
    async def test_a_changed_archive_for_a_trusted_version_is_refused(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("pinned", "1.0.0"))
        _, final = await install(client, modules_headers, "pinned")
        assert final["status"] == "completed", final
        pins = (await client.get("/repository/pins", headers=modules_headers)).json()
        (pin,) = [p for p in pins["items"] if p["module_name"] == "pinned"]
        first = test_repository.modules["pinned"]["versions"][0]["sha256"]
        assert pin == {
            "repository_id": "test-repo",
            "module_name": "pinned",
            "version": "1.0.0",
            "sha256": first,
            "pinned_at": pin["pinned_at"],
        }

        # The repository now serves another archive as 1.0.0, and its index says so.
        _rebuild(test_repository, "pinned", "1.0.0", b"something else")
        await client.post("/repository/repositories/test-repo/refresh", headers=modules_headers)
        refused = await client.post(
            "/modules/install-instance",
            json={"module_name": "pinned", "repository_id": "test-repo"},
            headers=modules_headers,
        )
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["code"] == "checksum_changed"
        assert body["pinned_sha256"] == first
        assert first in body["detail"]
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing["total"] == 1

        # An admin clears the pin on purpose; the next install trusts the new archive.
        cleared = await client.delete(
            "/repository/pins/test-repo/pinned/1.0.0", headers=modules_headers
        )
        assert cleared.status_code == 204
        again = await client.delete(
            "/repository/pins/test-repo/pinned/1.0.0", headers=modules_headers
        )
        assert again.status_code == 404
        assert again.json()["code"] == "pin_not_found"
        audit = await client.get(
            "/api/admin/audit?action=module.pin.clear", headers=modules_headers
        )
        (event,) = audit.json()["items"]
        assert event["detail"]["sha256"] == first
        _, final = await install(client, modules_headers, "pinned", repository_id="test-repo")
        assert final["status"] == "completed", final
        pins = await client.get("/repository/pins?module_name=pinned", headers=modules_headers)
        assert pins.json()["items"][0]["sha256"] != first

    async def test_an_update_to_a_changed_version_is_refused(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("upd", "1.0.0"))
        test_repository.add_module(manifest("upd", "1.1.0"))
        _, final = await install(client, modules_headers, "upd", version="1.1.0")
        assert final["status"] == "completed", final
        _, final = await install(client, modules_headers, "upd", version="1.0.0")
        assert final["status"] == "completed", final
        _rebuild(test_repository, "upd", "1.1.0", b"rebuilt")
        response = await client.post(
            "/modules/update", json={"module_name": "upd"}, headers=modules_headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "checksum_changed"

    async def test_the_operation_checks_the_pin_too(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        """An install accepted before a pin was written (by another install of the same version
        a moment later) still stops at an archive that differs from the pin."""
        test_repository.add_module(manifest("late", "1.0.0"))
        version = test_repository.modules["late"]["versions"][0]
        async with runtime.database.session() as session:
            await module_pin.pin(session, "test-repo", "late", "1.0.0", "a" * 64)
            repository = await ModuleRepositoryRepository(session).get("test-repo")
            assert repository is not None
            operation, _ = await operation_service.start(
                session,
                Actor.system(),
                kind=workflow.INSTALL,
                input={
                    "module_name": "late",
                    "instance_id": uuid.uuid4().hex,
                    "repository": RepositorySource.of(repository).as_dict(),
                    "archive": version,
                    "runtime": "process",
                    "stack": runtime.settings.module_stack_name,
                },
                target_type="module",
                target_id="late",
            )
        final = await wait_operation(client, modules_headers, str(operation.id))
        assert final["status"] == "failed", final
        assert "was pinned" in final["message"]
        async with runtime.database.session() as session:
            stored = await OperationRepository(session).get(operation.id)
        assert stored is not None
        assert stored.error is not None
        assert stored.error["code"] == "checksum_changed"
        assert list(runtime.settings.resolved_modules_root.glob("late_*")) == []


class TestNoShadowing:
    async def test_a_name_in_two_repositories_needs_a_repository_id(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        """The built-in demo works as documented until another repository offers its name (with
        a higher priority and a higher version); then a plain install is refused."""
        _, final = await install(client, modules_headers, "v2_dashboard")
        assert final["status"] == "completed", final
        removed = await client.delete("/repository/uninstall/v2_dashboard", headers=modules_headers)
        await wait_operation(client, modules_headers, removed.json()["operation_id"])

        test_repository.add_module(manifest("v2_dashboard", "9.9.9"))
        for path, body in (
            ("/modules/install-instance", {"module_name": "v2_dashboard"}),
            ("/repository/install", {"module_id": "v2_dashboard"}),
            ("/api/install/v2_dashboard", None),
        ):
            refused = await client.post(path, json=body, headers=modules_headers)
            assert refused.status_code == 409, (path, refused.text)
            assert refused.json()["code"] == "ambiguous_module"
            assert refused.json()["repositories"] == ["test-repo", BUILTIN]
            assert "repository_id" in refused.json()["detail"]
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing["total"] == 0

        _, final = await install(client, modules_headers, "v2_dashboard", repository_id=BUILTIN)
        assert final["status"] == "completed", final

    async def test_an_installed_module_stays_with_its_repository(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        _, final = await install(client, modules_headers, "v2_dashboard")
        assert final["status"] == "completed", final
        # Another repository, asked first, now offers a newer v2_dashboard.
        test_repository.add_module(manifest("v2_dashboard", "9.9.9"))

        _, final = await install(client, modules_headers, "v2_dashboard")
        assert final["status"] == "completed", final
        update = await client.post(
            "/modules/update", json={"module_name": "v2_dashboard"}, headers=modules_headers
        )
        # 0.1.0 is the built-in's newest: the newer one elsewhere is named, never installed.
        assert update.status_code == 409
        assert update.json()["code"] == "update_in_other_repository"
        assert update.json()["repositories"] == {"test-repo": "9.9.9"}
        async with runtime.database.session() as session:
            instances = list(await ModuleInstanceRepository(session).list())
        assert {(i.repository_id, i.version) for i in instances} == {(BUILTIN, "0.1.0")}

        # Naming the other repository is a decision, and later updates follow it there.
        first = instances[0].id
        moved = await client.post(
            "/modules/update",
            json={
                "module_name": "v2_dashboard",
                "instance_id": first,
                "repository_id": "test-repo",
                "answers": {"major_update": "continue"},  # 0.1.0 to 9.9.9
            },
            headers=modules_headers,
        )
        assert moved.status_code == 202, moved.text
        final = await wait_operation(client, modules_headers, moved.json()["operation_id"])
        assert final["status"] == "completed", final
        async with runtime.database.session() as session:
            moved_instance = await ModuleInstanceRepository(session).get(first)
        assert moved_instance is not None
        assert (moved_instance.repository_id, moved_instance.version) == ("test-repo", "9.9.9")

        # Instances from two repositories: a plain install or update must say which.
        for path, body in (
            ("/modules/install-instance", {"module_name": "v2_dashboard"}),
            ("/modules/update", {"module_name": "v2_dashboard"}),
        ):
            refused = await client.post(path, json=body, headers=modules_headers)
            assert refused.status_code == 409, refused.text
            assert refused.json()["code"] == "ambiguous_module"
            assert refused.json()["repositories"] == [BUILTIN, "test-repo"]

    async def test_a_disabled_source_is_not_replaced_by_another(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("tool", "1.0.0"))
        _, final = await install(client, modules_headers, "tool")
        assert final["status"] == "completed", final
        disabled = await client.put(
            "/repository/repositories/test-repo", json={"enabled": False}, headers=modules_headers
        )
        assert disabled.status_code == 200
        elsewhere = RepositoryDir(test_repository.root.parent / "elsewhere")
        elsewhere.add_module(manifest("tool", "2.0.0"))
        created = await client.post(
            "/repository/repositories",
            json={"id": "elsewhere", "name": "E", "type": "file", "url": str(elsewhere.root)},
            headers=modules_headers,
        )
        assert created.status_code == 201
        refused = await client.post(
            "/modules/install-instance", json={"module_name": "tool"}, headers=modules_headers
        )
        assert refused.status_code == 404
        assert refused.json()["code"] == "repository_not_found"
        assert "installed from repository test-repo" in refused.json()["detail"]


class TestOperationVisibility:
    async def test_module_operations_are_seen_as_every_operation(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        """Staff see the company's module operations (as on /api/operations); a customer has no
        business with the module manager at all."""
        admin = await create_admin(runtime)
        staff = await create_user(runtime, role="staff")
        customer = await create_user(runtime)
        async with runtime.database.session() as session:
            operations = OperationRepository(session)
            theirs = await operations.add(_operation(admin.id))
            mine = await operations.add(_operation(staff.id))
        staff_token = bearer(await create_token(runtime, staff, ["read:modules"]))
        staff_login = bearer(jwt_for(runtime, staff))
        for headers in (staff_token, staff_login):
            for prefix in ("/modules/status", "/repository/install/status"):
                for operation in (theirs, mine):
                    shown = await client.get(f"{prefix}/{operation.id}", headers=headers)
                    assert shown.status_code == 200, shown.text
        generic = await client.get(f"/api/operations/{theirs.id}", headers=staff_login)
        assert generic.status_code == 200
        as_customer = bearer(jwt_for(runtime, customer))
        for prefix in ("/modules/status", "/repository/install/status"):
            refused = await client.get(f"{prefix}/{theirs.id}", headers=as_customer)
            assert refused.status_code == 403, refused.text
        assert (
            await client.get(f"/api/operations/{theirs.id}", headers=as_customer)
        ).status_code == 404


def _operation(owner_user_id: int) -> Operation:
    return Operation(
        kind="module.install",
        idempotency_key=f"visibility-{owner_user_id}",
        owner_user_id=owner_user_id,
        status="completed",
        progress=100,
        message="Completed",
        input={"module_name": "v2_dashboard"},
        target_type="module",
        target_id="v2_dashboard",
    )
