from __future__ import annotations

import httpx

from stellwerk.bootstrap import bootstrap
from stellwerk.runtime import Runtime
from tests.factories import admin_headers


async def test_default_client_exists_after_start_and_bootstrap_is_idempotent(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await bootstrap(runtime)
    await bootstrap(runtime)
    admin = await admin_headers(runtime)
    configs = (await client.get("/api/client-configs", headers=admin)).json()
    assert [c["name"] for c in configs["items"]] == ["Account Forger"]
    assert configs["items"][0]["single_session"] is True


async def test_every_license_route_is_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for path in (
        "/api/license/activate",
        "/api/license/verify",
        "/api/license/info/{license_key}",
        "/api/license/session/start",
        "/api/license/session/heartbeat",
        "/api/license/session/end",
        "/api/version/check",
        "/api/version/latest",
        "/api/license/file/{license_key}",
        "/api/license/public-key",
        "/api/customers",
        "/api/licenses/bulk-delete",
        "/api/license/{license_id}/quick-edit",
        "/api/resources/allocate",
        "/api/global-search",
        "/api/generate-license-key",
        "/leads/api/institutions",
        "/leads/api/stats",
        "/api/client-configs",
        "/api/releases",
    ):
        assert path in paths, path
