"""Repositories: configuration, the catalog, installs from a test repository, hostile archives."""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path

import httpx

from stellwerk.runtime import Runtime
from tests.factories import bearer, create_admin, create_token
from tests.module.factories import (
    RepositoryDir,
    archive_bytes,
    install,
    manifest,
    member,
    wait_operation,
)


class TestRepositoryConfig:
    async def test_crud_for_https_repositories(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        created = await client.post(
            "/repository/repositories",
            json={
                "id": "vendor",
                "name": "Vendor modules",
                "type": "https",
                "url": "https://modules.example.com/index.json",
                "priority": 5,
            },
            headers=modules_headers,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["id"] == "vendor"
        assert body["enabled"] is True
        assert body["builtin"] is False
        assert body["has_ca_pem"] is False
        assert body["allow_private"] is False
        duplicate = await client.post(
            "/repository/repositories",
            json={"id": "vendor", "name": "x", "type": "https", "url": "https://x.example"},
            headers=modules_headers,
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "repository_exists"

        page = await client.get(
            "/repository/repositories?page=1&per_page=1", headers=modules_headers
        )
        assert page.status_code == 200
        assert page.json()["total"] == 2
        assert page.json()["pages"] == 2
        assert page.json()["items"][0]["id"] == "vendor"  # lower priority number first

        updated = await client.put(
            "/repository/repositories/vendor",
            json={"enabled": False, "name": "Vendor"},
            headers=modules_headers,
        )
        assert updated.status_code == 200
        assert updated.json()["enabled"] is False
        assert updated.json()["name"] == "Vendor"
        fetched = await client.get("/repository/repositories/vendor", headers=modules_headers)
        assert fetched.json()["name"] == "Vendor"
        deleted = await client.delete("/repository/repositories/vendor", headers=modules_headers)
        assert deleted.status_code == 204
        missing = await client.get("/repository/repositories/vendor", headers=modules_headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "repository_not_found"

    async def test_unsafe_urls_are_refused(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        for url in (
            "http://modules.example.com/index.json",
            "https://169.254.169.254/latest/meta-data",
            "https://[fe80::1]/index.json",
            "https://metadata.google.internal/index.json",
            "ftp://example.com/index.json",
            "https://user:pw@example.com/index.json",
        ):
            response = await client.post(
                "/repository/repositories",
                json={"id": "bad", "name": "bad", "type": "https", "url": url},
                headers=modules_headers,
            )
            assert response.status_code == 422, url
            assert response.json()["field"] == "url"
        allowed = await client.post(
            "/repository/repositories",
            json={
                "id": "plain",
                "name": "plain",
                "type": "https",
                "url": "http://modules.example.com/index.json",
                "allow_http": True,
            },
            headers=modules_headers,
        )
        assert allowed.status_code == 201

    async def test_private_addresses_need_allow_private(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
    ) -> None:
        """Loopback, private and non-public hosts in every spelling, IPv4 and IPv6."""
        for host in (
            "127.0.0.1",
            "0x7f000001",
            "2130706433",
            "0177.0.0.1",
            "127.1",
            "localhost",
            "10.1.2.3",
            "192.168.0.10",
            "172.16.5.4",
            "100.64.0.1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:10.0.0.1]",
            "[fd12:3456::1]",
            "[2002:7f00:1::]",
            "[64:ff9b::a00:1]",
        ):
            url = f"http://{host}:18777/index.json"
            refused = await client.post(
                "/repository/repositories",
                json={"id": "inside", "name": "x", "type": "https", "url": url, "allow_http": True},
                headers=modules_headers,
            )
            assert refused.status_code == 422, (url, refused.text)
            assert refused.json()["code"] == "unsafe_url"
            assert "allow_private" in refused.json()["detail"], refused.json()
        for url in ("http://0.0.0.0/", "http://240.0.0.1/", "http://[::]/", "http://224.0.0.1/"):
            always = await client.post(
                "/repository/repositories",
                json={
                    "id": "never",
                    "name": "x",
                    "type": "https",
                    "url": url,
                    "allow_http": True,
                    "allow_private": True,
                },
                headers=modules_headers,
            )
            assert always.status_code == 422, url

        body = {
            "id": "lan",
            "name": "LAN",
            "type": "https",
            "url": "http://0x7f000001:18777/index.json",
            "allow_http": True,
            "allow_private": True,
        }
        created = await client.post("/repository/repositories", json=body, headers=modules_headers)
        assert created.status_code == 201, created.text
        assert created.json()["allow_private"] is True
        # Taking the allowance back while the URL still points inside is refused.
        revoked = await client.put(
            "/repository/repositories/lan", json={"allow_private": False}, headers=modules_headers
        )
        assert revoked.status_code == 422
        assert revoked.json()["code"] == "unsafe_url"
        moved = await client.put(
            "/repository/repositories/lan",
            json={"allow_private": False, "url": "https://modules.example.com/"},
            headers=modules_headers,
        )
        assert moved.status_code == 200
        assert moved.json()["allow_private"] is False
        listing = (await client.get("/repository/list", headers=modules_headers)).json()
        assert (
            next(r for r in listing["repositories"] if r["id"] == "lan")["allow_private"] is False
        )
        audit = await client.get(
            "/api/admin/audit?target_type=module_repository&target_id=lan", headers=modules_headers
        )
        changed, added = ((e["action"], e["detail"]) for e in audit.json()["items"])
        assert added[0] == "module.repository.create"
        assert added[1]["allow_private"] is True
        assert changed[0] == "module.repository.update"
        assert changed[1]["allow_private"] is False
        assert changed[1]["url"] == "https://modules.example.com/"

    async def test_repositories_are_for_admins(
        self,
        client: httpx.AsyncClient,
        user_headers: dict[str, str],
        admin_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        https = {"id": "mine", "name": "Mine", "type": "https", "url": "https://x.example/"}
        admin_token = bearer(
            await create_token(
                runtime, await create_admin(runtime), ["read:modules", "write:modules"]
            )
        )
        for headers in (user_headers, admin_token):
            denied = await client.post("/repository/repositories", json=https, headers=headers)
            assert denied.status_code == 403, denied.text
            assert denied.json()["required"] == "admin"
        builtin = "/repository/repositories/local-module-repository"
        for method, path, body in (
            ("PUT", builtin, {"enabled": False}),
            ("DELETE", builtin, None),
            ("DELETE", "/repository/pins/local-module-repository/v2_dashboard/0.1.0", None),
        ):
            response = await client.request(method, path, json=body, headers=user_headers)
            assert response.status_code == 403, (method, path, response.text)
        still = (await client.get(builtin, headers=admin_headers)).json()
        assert still["enabled"] is True
        body = {"id": "local", "name": "Local", "type": "file", "url": str(tmp_path)}
        relative = await client.post(
            "/repository/repositories", json={**body, "url": "repo"}, headers=admin_headers
        )
        assert relative.status_code == 422
        created = await client.post("/repository/repositories", json=body, headers=admin_headers)
        assert created.status_code == 201

    async def test_concurrent_creation_answers_201_once(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        body = {"id": "raced", "name": "Raced", "type": "https", "url": "https://x.example/"}
        responses = await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.post("/repository/repositories", json=body, headers=modules_headers)
                    for _ in range(8)
                )
            ),
            timeout=60,
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 7, [r.text for r in responses]
        assert all(
            r.json()["code"] == "repository_exists" for r in responses if r.status_code == 409
        )
        page = (await client.get("/repository/repositories", headers=modules_headers)).json()
        assert [r["id"] for r in page["items"]].count("raced") == 1

    async def test_the_builtin_repository_stays(
        self, client: httpx.AsyncClient, modules_headers: dict[str, str]
    ) -> None:
        path = "/repository/repositories/local-module-repository"
        assert (await client.delete(path, headers=modules_headers)).status_code == 409
        moved = await client.put(path, json={"url": "/etc"}, headers=modules_headers)
        assert moved.status_code == 409
        disabled = await client.put(path, json={"enabled": False}, headers=modules_headers)
        assert disabled.status_code == 200
        listing = (await client.get("/repository/list", headers=modules_headers)).json()
        assert all(r["id"] != "local-module-repository" for r in listing["repositories"])

    async def test_refresh_records_errors(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        tmp_path: Path,
    ) -> None:
        await client.post(
            "/repository/repositories",
            json={"id": "empty", "name": "Empty", "type": "file", "url": str(tmp_path / "none")},
            headers=admin_headers,
        )
        refreshed = await client.post(
            "/repository/repositories/empty/refresh", headers=admin_headers
        )
        assert refreshed.status_code == 200
        assert "Cannot read the index" in refreshed.json()["last_error"]
        assert refreshed.json()["last_fetched_at"].endswith("Z")
        listing = (await client.get("/repository/list", headers=admin_headers)).json()
        broken = next(r for r in listing["repositories"] if r["id"] == "empty")
        assert broken["error"]


class TestCatalog:
    async def test_filters(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("alpha", "1.0.0", category="tools"))
        test_repository.add_module(manifest("alpha", "1.10.0", category="tools"))
        test_repository.add_module(manifest("alpha", "1.9.0", category="tools"))
        test_repository.add_module(manifest("beta", "0.1.0", category="monitoring"))
        everything = (await client.get("/repository/modules", headers=modules_headers)).json()
        names = sorted(m["name"] for m in everything["modules"])
        assert names == ["alpha", "beta", "v2_dashboard"]
        alpha = next(m for m in everything["modules"] if m["name"] == "alpha")
        assert alpha["latest_version"] == "1.10.0"
        assert alpha["versions"] == ["1.0.0", "1.9.0", "1.10.0"]
        assert alpha["repository_id"] == "test-repo"
        assert set(everything["categories"]) == {"tools", "monitoring", "dashboard"}

        async def names_for(query: str) -> list[str]:
            response = await client.get(f"/repository/modules?{query}", headers=modules_headers)
            assert response.status_code == 200, response.text
            return sorted(m["name"] for m in response.json()["modules"])

        assert await names_for("repository=test-repo") == ["alpha", "beta"]
        assert await names_for("category=monitoring") == ["beta"]
        assert await names_for("search=dashboard") == ["v2_dashboard"]
        assert await names_for("installed=true") == []
        _, final = await install(client, modules_headers, "beta")
        assert final["status"] == "completed", final
        assert await names_for("installed=true") == ["beta"]
        assert await names_for("installed=false") == ["alpha", "v2_dashboard"]
        missing = await client.get("/repository/modules?repository=nope", headers=modules_headers)
        assert missing.status_code == 404

    async def test_repository_install_status_and_uninstall(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        test_repository.add_module(manifest("gamma", "1.0.0", multi_instance=True))
        response = await client.post(
            "/repository/install",
            json={"module_id": "gamma", "repository_id": "test-repo"},
            headers=modules_headers,
        )
        assert response.status_code == 202, response.text
        started = response.json()
        assert started["status_url"] == f"/repository/install/status/{started['operation_id']}"
        await wait_operation(client, modules_headers, started["operation_id"])
        status = (await client.get(started["status_url"], headers=modules_headers)).json()
        assert status["status"] == "completed"
        assert status["module_name"] == "gamma"
        _, second = await install(client, modules_headers, "gamma")
        assert second["status"] == "completed"
        root = runtime.settings.resolved_modules_root
        assert len(list(root.glob("gamma_*"))) == 2

        removed = await client.delete("/repository/uninstall/gamma", headers=modules_headers)
        assert removed.status_code == 202
        final = await wait_operation(client, modules_headers, removed.json()["operation_id"])
        assert final["status"] == "completed"
        assert list(root.glob("gamma_*")) == []
        listing = (await client.get("/modules/instances", headers=modules_headers)).json()
        assert listing["total"] == 0

    async def test_a_single_instance_module_refuses_a_second(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
    ) -> None:
        test_repository.add_module(manifest("solo", "1.0.0", multi_instance=False))
        _, final = await install(client, modules_headers, "solo")
        assert final["status"] == "completed", final
        again = await client.post(
            "/modules/install-instance", json={"module_name": "solo"}, headers=modules_headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "single_instance"
        assert again.json()["error"] == "conflict"


class TestArchiveSafety:
    async def _install_failing(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        repository: RepositoryDir,
        name: str,
        archive: bytes,
        runtime: Runtime,
    ) -> dict[str, object]:
        repository.add(name, "1.0.0", archive)
        _, final = await install(client, headers, name)
        assert final["status"] == "failed", final
        root = runtime.settings.resolved_modules_root
        assert list(root.glob(f"{name}_*")) == []
        assert list((root / ".staging").iterdir()) == []
        listing = (await client.get("/modules/instances", headers=headers)).json()
        assert listing["total"] == 0
        return final

    async def test_hostile_archives_write_nothing_outside(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        root = runtime.settings.resolved_modules_root
        hostile = {
            "dotdot": [member("../evil", data=b"owned")],
            "deepdots": [member("www/../../../evil", data=b"owned")],
            "absolute": [member(str(tmp_path / "evil-absolute"), data=b"owned")],
            "symlink": [member("link", kind=tarfile.SYMTYPE, link="../../../../etc")],
            "abslink": [member("link", kind=tarfile.SYMTYPE, link="/etc/passwd")],
            "hardlink": [member("hard", kind=tarfile.LNKTYPE, link="../outside")],
            "device": [member("dev", kind=tarfile.CHRTYPE)],
            "fifo": [member("pipe", kind=tarfile.FIFOTYPE)],
        }
        for name, members in hostile.items():
            archive = archive_bytes(manifest(name, "1.0.0"), {"ok.txt": b"fine"}, members)
            final = await self._install_failing(
                client, modules_headers, test_repository, name, archive, runtime
            )
            assert "refused" in str(final["message"]), final
        assert not (root.parent / "evil").exists()
        assert not (root / "evil").exists()
        assert not (tmp_path / "evil-absolute").exists()

    async def test_checksum_and_manifest_problems_fail_cleanly(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        test_repository: RepositoryDir,
        runtime: Runtime,
    ) -> None:
        good = archive_bytes(manifest("tampered", "1.0.0"))
        test_repository.add("tampered", "1.0.0", good, sha256="0" * 64)
        _, final = await install(client, modules_headers, "tampered")
        assert final["status"] == "failed"
        assert "sha256" in final["message"]
        await self._install_failing(
            client,
            modules_headers,
            test_repository,
            "nomanifest",
            archive_bytes(None, {"README": b"x"}),
            runtime,
        )
        await self._install_failing(
            client,
            modules_headers,
            test_repository,
            "mismatch",
            archive_bytes(manifest("other", "1.0.0")),
            runtime,
        )
        await self._install_failing(
            client,
            modules_headers,
            test_repository,
            "crashy",
            archive_bytes(manifest("crashy", "1.0.0", command=["{python}", "-c", "exit(2)"])),
            runtime,
        )
