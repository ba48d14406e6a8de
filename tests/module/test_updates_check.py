"""Update checks across repositories: newer versions are reported wherever they are, and
installed from another repository than the instances came from only when the request names it."""

from __future__ import annotations

from pathlib import Path

import httpx

from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.module.factories import (
    RepositoryDir,
    install,
    manifest,
    register_repository,
    wait_operation,
)


async def _second_repository(runtime: Runtime, tmp_path: Path, *versions: str) -> RepositoryDir:
    second = RepositoryDir(tmp_path / "second")
    for version in versions:
        second.add_module(manifest("v2_dashboard", version))
    await register_repository(runtime, "second-repo", str(second.root), priority=50)
    return second


class TestUpdatesAcrossRepositories:
    async def test_a_newer_version_in_a_second_repository_is_shown_and_installed_when_named(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        _, final = await install(client, modules_headers, "v2_dashboard")
        assert final["status"] == "completed", final
        await _second_repository(runtime, tmp_path, "0.2.0", "0.3.0-rc.1")

        check = await client.get("/modules/updates/check", headers=modules_headers)
        assert check.status_code == 200, check.text
        body = check.json()
        assert body["total"] == 1
        assert body["updates_available"] == 1
        (module,) = body["modules"]
        assert module["module_name"] == "v2_dashboard"
        assert module["installed_versions"] == ["0.1.0"]
        assert module["repository_ids"] == ["local-module-repository"]
        assert module["latest_version"] == "0.2.0"  # no pre-release unless asked for
        assert module["latest_repository_id"] == "second-repo"
        assert module["requires_repository"] is True
        assert module["available_updates"] == [
            {
                "repository_id": "second-repo",
                "version": "0.2.0",
                "is_source": False,
                "crosses_major": False,
                "prerelease": False,
            }
        ]
        (instance,) = module["instances"]
        assert instance["latest_version"] == "0.1.0"
        assert instance["update_available"] is False
        with_pre = await client.get(
            "/modules/updates/check?prereleases=true", headers=modules_headers
        )
        assert with_pre.json()["modules"][0]["latest_version"] == "0.3.0-rc.1"

        # Not from another repository unless the request names it.
        refused = await client.post(
            "/modules/update", json={"module_name": "v2_dashboard"}, headers=modules_headers
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "update_in_other_repository"
        assert refused.json()["repositories"] == {"second-repo": "0.2.0"}
        assert "repository_id" in refused.json()["detail"]
        named_version = await client.post(
            "/modules/update",
            json={"module_name": "v2_dashboard", "version": "0.2.0"},
            headers=modules_headers,
        )
        assert named_version.status_code == 404
        assert named_version.json()["code"] == "version_in_other_repository"

        started = await client.post(
            "/modules/update",
            json={"module_name": "v2_dashboard", "repository_id": "second-repo"},
            headers=modules_headers,
        )
        assert started.status_code == 202, started.text
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        async with runtime.database.session() as session:
            (row,) = await ModuleInstanceRepository(session).list()
        assert (row.version, row.repository_id) == ("0.2.0", "second-repo")

        after = (await client.get("/modules/updates/check", headers=modules_headers)).json()
        assert after["updates_available"] == 0
        assert after["modules"][0]["repository_ids"] == ["second-repo"]
        assert after["modules"][0]["requires_repository"] is False
        again = await client.post(
            "/modules/update", json={"module_name": "v2_dashboard"}, headers=modules_headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "up_to_date"

    async def test_the_newest_never_steps_back(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("app", "1.2.0"))
        await install(client, modules_headers, "app", version="1.2.0")
        test_repository.add_module(manifest("app", "1.10.0"))
        test_repository.add_module(manifest("app", "1.9.0"))
        check = (await client.get("/modules/updates/check", headers=modules_headers)).json()
        (module,) = check["modules"]
        assert module["latest_version"] == "1.10.0"  # semver, not text order
        assert module["requires_repository"] is False
        assert module["instances"][0]["update_available"] is True
        started = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        final = await wait_operation(client, modules_headers, started.json()["operation_id"])
        assert final["status"] == "completed", final
        older = await client.post(
            "/modules/update", json={"module_name": "app"}, headers=modules_headers
        )
        assert older.status_code == 409
        assert older.json()["code"] == "up_to_date"

    async def test_a_customer_cannot_check(
        self, client: httpx.AsyncClient, user_headers: dict[str, str]
    ) -> None:
        refused = await client.get("/modules/updates/check", headers=user_headers)
        assert refused.status_code == 403
