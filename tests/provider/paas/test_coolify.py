"""Coolify specifics: error mapping, POST-only lifecycle, rate limits, and the sandbox's answers
validated against Coolify's OpenAPI document (shared/specs/coolify.json)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from stellwerk.provider.error import INVALID_CREDENTIALS, NOT_FOUND, ProviderError
from stellwerk.provider.paas.base import EnvVar, PublicGitApp
from stellwerk.provider.paas.coolify.adapter import CoolifyPaas, deployment_log_text
from stellwerk.provider.sandbox.kit import RunningSandbox
from tests.provider.compute import spec


def validate(method: str, path: str, status: int, body: Any) -> None:
    """`body` matches the documented answer (the spec shipped beside the sandbox)."""
    pointer = spec.response_schema("coolify.json", path, method.lower(), str(status))
    spec.validate("coolify.json", pointer, body)


async def test_answers_match_the_spec(coolify_sandbox: RunningSandbox) -> None:
    await _control(coolify_sandbox, "deployments", {"delete_seconds": 0})
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
    logs = (await coolify.get_deployment(uuid=action.id)).logs
    assert logs is not None
    lines = logs.splitlines()
    assert "Starting deployment of https://github.com/vrs/vrs-core.git:main" in lines[0]
    assert lines[-1].endswith("Rolling update completed.")
    assert not any("docker rm -f" in line for line in lines)  # hidden entries stay hidden

    # Only tokens that may read sensitive data get the log at all.
    await _control(coolify_sandbox, "tokens", {"token": "sandbox-reader", "abilities": ["read"]})
    reader = CoolifyPaas(api_url=coolify_sandbox.url, token="sandbox-reader")
    try:
        plain = await reader.get_deployment(uuid=action.id)
    finally:
        await reader.aclose()
    assert plain.status == "finished"
    assert plain.logs is None


def test_deployment_logs_are_read_as_coolify_writes_them() -> None:
    raw = json.dumps(
        [
            {
                "command": None,
                "output": "second",
                "type": "stderr",
                "timestamp": "2026-12-06T18:00:02.000000Z",
                "hidden": False,
                "batch": 1,
                "order": 2,
            },
            {
                "command": None,
                "output": "first",
                "type": "stdout",
                "timestamp": "2026-12-06T18:00:01.000000Z",
                "hidden": False,
                "batch": 1,
                "order": 1,
            },
            {
                "command": "ls",
                "output": "secret-ish",
                "type": "stdout",
                "timestamp": "2026-12-06T18:00:03.000000Z",
                "hidden": True,
                "batch": 1,
                "order": 3,
            },
        ]
    )
    assert deployment_log_text(raw) == (
        "[2026-12-06 18:00:01] first\n[2026-12-06 18:00:02] ! second"
    )
    assert deployment_log_text(None) is None
    assert deployment_log_text("plain text") == "plain text"


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


# --- as Coolify really answers -----------------------------------------------------------------


async def _control(sandbox: RunningSandbox, action: str, body: Any) -> Any:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://127.0.0.1:{sandbox.port}/__sandbox__/{action}", json=body
        )
    return response.json() if response.content else None


async def _app(paas: CoolifyPaas, name: str = "a") -> tuple[str, str]:
    project = await paas.create_project(name=f"p-{name}")
    server = (await paas.list_servers())[0]
    app = await paas.create_public_application(
        app=PublicGitApp(
            project_uuid=project.uuid,
            server_uuid=server.uuid,
            name=name,
            git_repository="https://github.com/vrs/vrs-core.git",
            git_branch="main",
        )
    )
    return project.uuid, app.uuid


async def test_a_project_is_deleted_once_its_application_is_gone(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    """Deleting an application only queues Coolify's DeleteResourceJob; the project refuses to
    go ("has resources") until the job ran. The adapter waits for the application to go."""
    await _control(coolify_sandbox, "deployments", {"delete_seconds": 0.5})
    project_uuid, app_uuid = await _app(coolify)
    await coolify.delete_application(uuid=app_uuid)
    await coolify.delete_project(uuid=project_uuid)
    assert project_uuid not in {p.uuid for p in await coolify.list_projects()}
    assert app_uuid not in {a.uuid for a in await coolify.list_applications()}


async def test_the_sandbox_refuses_a_project_with_an_application_being_deleted(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    await _control(coolify_sandbox, "deployments", {"delete_seconds": 5})
    project_uuid, app_uuid = await _app(coolify)
    async with httpx.AsyncClient(
        base_url=coolify_sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        deleted = await http.delete(f"/applications/{app_uuid}")
        refused = await http.delete(f"/projects/{project_uuid}")
    assert deleted.json() == {"message": "Application deletion request queued."}
    assert refused.status_code == 400
    assert refused.json() == {"message": "Project has resources, so it cannot be deleted."}


async def test_a_deployment_already_queued_is_followed(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    """Coolify answers 200 `{"message": "Deployment already queued for this commit."}` without
    a `deployment_uuid` while one runs (queue_application_deployment)."""
    await _control(coolify_sandbox, "deployments", {"queue_seconds": 2, "build_seconds": 2})
    _, app_uuid = await _app(coolify)
    first = await coolify.deploy(app_uuid=app_uuid)
    again = await coolify.deploy(app_uuid=app_uuid)
    restarted = await coolify.restart(app_uuid=app_uuid)
    assert again.id == first.id
    assert restarted.id == first.id
    async with httpx.AsyncClient(
        base_url=coolify_sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        skipped = (await http.post(f"/applications/{app_uuid}/start")).json()
    assert skipped == {"message": "Deployment already queued for this commit."}


async def test_a_deployment_names_its_application_by_id(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    _, app_uuid = await _app(coolify)
    action = await coolify.deploy(app_uuid=app_uuid)
    async with httpx.AsyncClient(
        base_url=coolify_sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        one = (await http.get(f"/deployments/{action.id}")).json()
        listed = (await http.get(f"/deployments/applications/{app_uuid}")).json()
    # ApplicationDeploymentQueue has `application_id`, no `application_uuid`.
    assert "application_uuid" not in one
    assert one["application_id"].isdecimal()
    # DeployController::get_application_deployments: {count, deployments}, 10 unless `take`.
    assert listed["count"] == 1
    assert [d["deployment_uuid"] for d in listed["deployments"]] == [action.id]
    assert [d.uuid for d in await coolify.list_deployments(app_uuid=app_uuid)] == [action.id]


async def test_the_create_answer_has_domains_as_a_string(coolify_sandbox: RunningSandbox) -> None:
    async with httpx.AsyncClient(
        base_url=coolify_sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        project = (await http.post("/projects", json={"name": "d"})).json()
        server = (await http.get("/servers")).json()[0]
        created = await http.post(
            "/applications/public",
            json={
                "project_uuid": project["uuid"],
                "server_uuid": server["uuid"],
                "environment_name": "production",
                "git_repository": "https://github.com/vrs/vrs-core.git",
                "git_branch": "main",
                "build_pack": "nixpacks",
                "ports_exposes": "8000",
                "domains": "https://d.de,https://www.d.de",
            },
        )
    assert created.status_code == 201
    assert created.json()["domains"] == "https://d.de,https://www.d.de"


# --- token abilities ----------------------------------------------------------------------------


async def _token(sandbox: RunningSandbox, token: str, *abilities: str) -> CoolifyPaas:
    await _control(sandbox, "tokens", {"token": token, "abilities": list(abilities)})
    paas = CoolifyPaas(api_url=sandbox.url, token=token)
    paas.http.backoff = lambda _n: 0.05
    return paas


async def test_env_values_hidden_without_read_sensitive_are_not_taken_for_empty(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    """Without `read:sensitive` (or `root`) Coolify leaves `value` out of every variable
    (EnvironmentVariable::$hidden, ApiSensitiveData): the adapter says so instead of reading
    the variables as empty."""
    _, app_uuid = await _app(coolify)
    await coolify.set_envs(app_uuid=app_uuid, envs=[EnvVar(key="SECRET_KEY", value="s3cret")])
    limited = await _token(coolify_sandbox, "sandbox-limited", "read", "write", "deploy")
    with pytest.raises(ProviderError) as caught:
        await limited.list_envs(app_uuid=app_uuid)
    assert caught.value.code == INVALID_CREDENTIALS
    assert "read:sensitive" in caught.value.message
    await limited.aclose()
    sensitive = await _token(coolify_sandbox, "sandbox-sensitive", "read", "read:sensitive")
    assert [e.value for e in await sensitive.list_envs(app_uuid=app_uuid)] == ["s3cret"]
    await sensitive.aclose()


async def test_a_missing_ability_is_named(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    _, app_uuid = await _app(coolify)
    reader = await _token(coolify_sandbox, "sandbox-reader", "read", "write")
    with pytest.raises(ProviderError) as caught:
        await reader.deploy(app_uuid=app_uuid)
    assert caught.value.code == INVALID_CREDENTIALS
    assert "deploy" in caught.value.message
    assert caught.value.http_status == 403
    await reader.aclose()


async def test_the_api_url_may_be_given_without_api_v1(
    coolify_sandbox: RunningSandbox,
) -> None:
    from stellwerk.provider.registry import coolify_api_url

    root = f"http://127.0.0.1:{coolify_sandbox.port}"
    paas = CoolifyPaas(api_url=coolify_api_url(root), token="sandbox-root")
    assert (await paas.list_servers())[0].name == "hetzner-1"
    await paas.aclose()
    assert coolify_api_url(f"{root}/api/v1/") == f"{root}/api/v1"


async def test_updating_an_application_as_coolify_does(
    coolify_sandbox: RunningSandbox, coolify: CoolifyPaas
) -> None:
    """PATCH /applications/{uuid}: only the documented fields, a domain another application
    serves is 409, a commit set there is what the next deployment builds; env deletion by uuid;
    deletion takes its cleanup switches."""
    _, first = await _app(coolify, "first")
    _, second = await _app(coolify, "second")
    await coolify.update_application(
        uuid=first, git_branch="release", git_commit_sha="abc1234", domains=["https://a.de"]
    )
    app = await coolify.get_application(uuid=first)
    assert (app.git_branch, app.fqdn) == ("release", "https://a.de")
    deployment = await coolify.deploy(app_uuid=first, force=True)
    state = coolify_sandbox.server.config.app.sandbox.data
    assert state["deployments"][deployment.id]["commit"] == "abc1234"
    with pytest.raises(ProviderError) as taken:
        await coolify.update_application(uuid=second, domains=["https://a.de"])
    assert taken.value.http_status == 409
    assert "Domain conflicts detected" in str(taken.value)
    headers = {"Authorization": "Bearer sandbox-x"}
    async with httpx.AsyncClient(base_url=coolify_sandbox.url, headers=headers) as http:
        unknown = await http.patch(f"/applications/{first}", json={"fqdn": "https://b.de"})
        assert unknown.status_code == 422
        validate(
            "PATCH",
            "/applications/{uuid}",
            200,
            (await http.patch(f"/applications/{first}", json={"name": "renamed"})).json(),
        )
    await coolify.set_envs(app_uuid=first, envs=[EnvVar(key="K", value="v")])
    (env,) = await coolify.list_envs(app_uuid=first)
    await coolify.delete_env(app_uuid=first, env_uuid=str(env.uuid))
    assert await coolify.list_envs(app_uuid=first) == []
    await _control(coolify_sandbox, "deployments", {"delete_seconds": 5})
    async with httpx.AsyncClient(base_url=coolify_sandbox.url, headers=headers) as http:
        await http.delete(f"/applications/{second}", params={"docker_cleanup": "false"})
    assert state["applications"][second]["_cleanup"] == {
        "delete_configurations": True,
        "delete_volumes": True,
        "docker_cleanup": False,
        "delete_connected_networks": True,
    }
