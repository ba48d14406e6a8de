"""HTTPS repositories against a real loopback TLS server: CA pinning, sha256, http refusal."""

from __future__ import annotations

from pathlib import Path

import httpx

from stellwerk.runtime import Runtime
from tests.module.factories import (
    RepositoryDir,
    archive_bytes,
    install,
    manifest,
    register_repository,
)
from tests.module.servers import serve_directory


class TestHttpsRepositories:
    async def test_install_from_an_https_repository(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        repository = RepositoryDir(tmp_path / "site")
        repository.add_module(manifest("remote_app", "1.0.0"))
        with serve_directory(repository.root, tls_dir=tmp_path) as served:
            body = {
                "id": "remote",
                "name": "Remote",
                "type": "https",
                "url": f"{served.url}/index.json",
                "ca_pem": served.ca_pem,
                "priority": 1,
            }
            loopback = await client.post(
                "/repository/repositories", json=body, headers=modules_headers
            )
            assert loopback.status_code == 422
            assert loopback.json()["code"] == "unsafe_url"
            created = await client.post(
                "/repository/repositories",
                json={**body, "allow_private": True},
                headers=modules_headers,
            )
            assert created.status_code == 201, created.text
            assert created.json()["has_ca_pem"] is True
            assert "ca_pem" not in created.json()
            catalog = await client.get(
                "/repository/modules?repository=remote", headers=modules_headers
            )
            assert [m["name"] for m in catalog.json()["modules"]] == ["remote_app"]
            _, final = await install(client, modules_headers, "remote_app")
            assert final["status"] == "completed", final
        root = runtime.settings.resolved_modules_root
        (directory,) = root.glob("remote_app_*")
        assert (directory / "README").read_text() == "test module\n"

    async def test_an_untrusted_certificate_is_an_error(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        repository = RepositoryDir(tmp_path / "site")
        repository.add_module(manifest("remote_app", "1.0.0"))
        with serve_directory(repository.root, tls_dir=tmp_path) as served:
            await register_repository(
                runtime, "untrusted", served.url, kind="https", allow_private=True
            )
            listing = (await client.get("/repository/list", headers=modules_headers)).json()
            broken = next(r for r in listing["repositories"] if r["id"] == "untrusted")
            assert "CERTIFICATE_VERIFY_FAILED" in broken["error"]
            response = await client.post(
                "/modules/install-instance",
                json={"module_name": "remote_app", "repository_id": "untrusted"},
                headers=modules_headers,
            )
            assert response.status_code == 503
            assert response.json()["code"] == "repository_unavailable"

    async def test_a_tampered_archive_is_refused(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        repository = RepositoryDir(tmp_path / "site")
        repository.add_module(manifest("remote_app", "1.0.0"))
        (repository.root / "remote_app-1.0.0.tar.gz").write_bytes(
            archive_bytes(manifest("remote_app", "1.0.0"), {"backdoor": b"!"})
        )
        with serve_directory(repository.root, tls_dir=tmp_path) as served:
            await register_repository(
                runtime,
                "remote",
                served.url,
                kind="https",
                ca_pem=served.ca_pem,
                allow_private=True,
            )
            _, final = await install(client, modules_headers, "remote_app")
        assert final["status"] == "failed"
        assert "sha256" in final["message"]
        assert list(runtime.settings.resolved_modules_root.glob("remote_app_*")) == []

    async def test_plain_http_needs_allow_http(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        tmp_path: Path,
    ) -> None:
        repository = RepositoryDir(tmp_path / "site")
        repository.add_module(manifest("plain_app", "1.0.0"))
        with serve_directory(repository.root) as served:
            body = {
                "id": "plain",
                "name": "Plain",
                "type": "https",
                "url": served.url,
                "allow_private": True,
            }
            refused = await client.post(
                "/repository/repositories", json=body, headers=modules_headers
            )
            assert refused.status_code == 422
            assert refused.json()["code"] == "unsafe_url"
            allowed = await client.post(
                "/repository/repositories",
                json={**body, "allow_http": True},
                headers=modules_headers,
            )
            assert allowed.status_code == 201
            _, final = await install(client, modules_headers, "plain_app")
            assert final["status"] == "completed", final

    async def test_a_redirect_to_the_metadata_address_is_refused(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        redirects = {"/index.json": "http://169.254.169.254/latest/meta-data/"}
        with serve_directory(tmp_path, redirects=redirects) as served:
            await register_repository(
                runtime, "sneaky", served.url, kind="https", allow_http=True, allow_private=True
            )
            listing = (await client.get("/repository/list", headers=modules_headers)).json()
        sneaky = next(r for r in listing["repositories"] if r["id"] == "sneaky")
        assert "metadata" in sneaky["error"]

    async def test_the_guard_holds_when_fetching(
        self,
        client: httpx.AsyncClient,
        modules_headers: dict[str, str],
        runtime: Runtime,
        tmp_path: Path,
    ) -> None:
        """A repository that points inside without the allowance (written past the API, or from
        before the allowance existed) is refused on every fetch, in every spelling."""
        repository = RepositoryDir(tmp_path / "site")
        repository.add_module(manifest("inside_app", "1.0.0"))
        with serve_directory(repository.root) as served:
            port = served.url.rsplit(":", 1)[1]
            for number, host in enumerate(("127.0.0.1", "0x7f000001", "localhost")):
                await register_repository(
                    runtime,
                    f"inside{number}",
                    f"http://{host}:{port}",
                    kind="https",
                    allow_http=True,
                )
            listing = (await client.get("/repository/list", headers=modules_headers)).json()
            for number in range(3):
                inside = next(r for r in listing["repositories"] if r["id"] == f"inside{number}")
                assert "loopback" in inside["error"], inside
            response = await client.post(
                "/modules/install-instance",
                json={"module_name": "inside_app", "repository_id": "inside1"},
                headers=modules_headers,
            )
            assert response.status_code == 503
            assert response.json()["code"] == "repository_unavailable"
            assert "loopback" in response.json()["detail"]
            allowed = await client.put(
                "/repository/repositories/inside1",
                json={"allow_private": True},
                headers=modules_headers,
            )
            assert allowed.status_code == 200, allowed.text
            _, final = await install(client, modules_headers, "inside_app", repository_id="inside1")
            assert final["status"] == "completed", final
