"""Coolify specifics: error mapping, POST-only lifecycle, rate limits, and the sandbox's answers
validated against Coolify's OpenAPI document (shared/specs/coolify.json)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from stellwerk.provider.error import INVALID_CREDENTIALS, NOT_FOUND, ProviderError
from stellwerk.provider.paas.base import EnvVar, PublicGitApp
from stellwerk.provider.paas.coolify.adapter import CoolifyPaas
from stellwerk.provider.sandbox.kit import RunningSandbox
from tests.provider.compute import spec


def validate(method: str, path: str, status: int, body: Any) -> None:
    """`body` matches the documented answer (the spec shipped beside the sandbox)."""
    pointer = spec.response_schema("coolify.json", path, method.lower(), str(status))
    spec.validate("coolify.json", pointer, body)


async def test_answers_match_the_spec(coolify_sandbox: RunningSandbox) -> None:
    headers = {"Authorization": "Bearer sandbox-token"}
    base = coolify_sandbox.url
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:

        async def check(method: str, path: str, template: str, status: int, **kw: Any) -> Any:
            response = await http.request(method, path, **kw)
            assert response.status_code == status, response.text
            validate(method, template, status, response.json())
            return response.json()

        server = (await check("GET", "/servers", "/servers", 200))[0]
        assert server["name"] == "hetzner-1"
        await check("GET", f"/servers/{server['uuid']}", "/servers/{uuid}", 200)
        project = await check("POST", "/projects", "/projects", 201, json={"name": "vrs-x"})
        await check("GET", "/projects", "/projects", 200)
        await check("GET", f"/projects/{project['uuid']}", "/projects/{uuid}", 200)
        body = {
            "project_uuid": project["uuid"],
            "server_uuid": server["uuid"],
            "environment_name": "production",
            "git_repository": "https://github.com/vrs/vrs-core.git",
            "git_branch": "main",
            "build_pack": "nixpacks",
            "ports_exposes": "8000",
            "domains": "https://x.de,https://www.x.de",
            "is_force_https_enabled": True,
            "is_auto_deploy_enabled": False,
            "health_check_enabled": True,
            "health_check_path": "/health",
            "health_check_interval": 30,
            "name": "vrs-x",
            "instant_deploy": False,
        }
        app = await check("POST", "/applications/public", "/applications/public", 201, json=body)
        uuid = app["uuid"]
        await check("GET", f"/applications/{uuid}", "/applications/{uuid}", 200)
        await check("GET", "/applications", "/applications", 200)
        await check(
            "POST",
            f"/applications/{uuid}/envs",
            "/applications/{uuid}/envs",
            201,
            json={"key": "A", "value": "1"},
        )
        await check(
            "PATCH",
            f"/applications/{uuid}/envs/bulk",
            "/applications/{uuid}/envs/bulk",
            201,
            json={"data": [{"key": "A", "value": "2"}, {"key": "B", "value": "3"}]},
        )
        await check("GET", f"/applications/{uuid}/envs", "/applications/{uuid}/envs", 200)
        started = await check(
            "POST", f"/applications/{uuid}/start", "/applications/{uuid}/start", 200
        )
        deployment = await check(
            "GET", f"/deployments/{started['deployment_uuid']}", "/deployments/{uuid}", 200
        )
        assert deployment["status"] == "queued"
        await check("GET", "/deployments", "/deployments", 200)
        await check("POST", f"/applications/{uuid}/stop", "/applications/{uuid}/stop", 200)
        await check("POST", f"/applications/{uuid}/restart", "/applications/{uuid}/restart", 200)
        await check("GET", "/applications/missing", "/applications/{uuid}", 404)
        await check(
            "POST",
            "/applications/public",
            "/applications/public",
            409,
            json={**body, "name": "again"},
        )
        await check("DELETE", f"/applications/{uuid}", "/applications/{uuid}", 200)
        await check("DELETE", f"/projects/{project['uuid']}", "/projects/{uuid}", 200)
        unauthenticated = await http.get("/servers", headers={"Authorization": "Bearer nope"})
        assert unauthenticated.status_code == 401
        validate("GET", "/servers", 401, unauthenticated.json())


async def test_deployment_goes_queued_in_progress_finished(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    project = await coolify.create_project(name="p")
    server = (await coolify.list_servers())[0]
    app = await coolify.create_public_application(
        app=PublicGitApp(
            project_uuid=project.uuid,
            server_uuid=server.uuid,
            name="a",
            git_repository="https://github.com/vrs/vrs-core.git",
            git_branch="main",
        )
    )
    action = await coolify.deploy(app_uuid=app.uuid)
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = (await coolify.get_deployment(uuid=action.id)).status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "finished":
            break
        time.sleep(0.05)  # noqa: ASYNC251 - a short poll in a test
    assert seen == ["queued", "in_progress", "finished"]


async def test_get_on_lifecycle_is_405(coolify_sandbox: RunningSandbox) -> None:
    async with httpx.AsyncClient(
        base_url=coolify_sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        response = await http.get("/applications/abc/start")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"message": "This endpoint has changed to a POST request."}


async def test_bad_token(coolify_sandbox: RunningSandbox) -> None:
    paas = CoolifyPaas(api_url=coolify_sandbox.url, token="real-looking-token")
    with pytest.raises(ProviderError) as caught:
        await paas.list_servers()
    assert caught.value.code == INVALID_CREDENTIALS
    await paas.aclose()


async def test_missing_app(coolify: CoolifyPaas) -> None:
    with pytest.raises(ProviderError) as caught:
        await coolify.set_envs(app_uuid="nope", envs=[EnvVar(key="A", value="1")])
    assert caught.value.code == NOT_FOUND


async def test_rate_limit_retry_after_is_honoured(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{coolify_sandbox.port}/__sandbox__/faults",
            json={"kind": "rate_limit", "count": 1, "retry_after": 2},
        )
    started = time.monotonic()
    servers = await coolify.list_servers()
    assert servers
    assert time.monotonic() - started >= 2


async def test_server_errors_retried_for_reads(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{coolify_sandbox.port}/__sandbox__/faults",
            json={"kind": "status", "count": 2, "status": 503},
        )
    assert await coolify.list_servers()
