"""The `Paas` contract, run for every platform adapter against its sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from stellwerk.provider.action import ActionFailed, constant_backoff
from stellwerk.provider.error import API_ERROR, CONFLICT, NOT_FOUND, VALIDATION_ERROR, ProviderError
from stellwerk.provider.paas.base import (
    EnvVar,
    HetznerServerRequest,
    Paas,
    PublicGitApp,
)
from stellwerk.provider.paas.coolify.adapter import CoolifyPaas
from stellwerk.provider.paas.coolify.sandbox import (
    SEED_CLOUD_TOKEN_UUID,
    SEED_KEY_UUID,
    create_app,
)
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


@pytest_asyncio.fixture(params=["coolify"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Paas, RunningSandbox]]:
    sandbox = await start_server(create_app(None), name="coolify", suffix="/api/v1")
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{sandbox.port}/__sandbox__/deployments",
            json={"queue_seconds": 0.2, "build_seconds": 0.4},
        )
    adapter = CoolifyPaas(api_url=sandbox.url, token="sandbox-token")
    yield adapter, sandbox
    await adapter.aclose()
    await sandbox.stop()


async def _server_uuid(paas: Paas) -> str:
    (server,) = [s for s in await paas.list_servers() if s.name == "hetzner-1"]
    return server.uuid


def _app(project_uuid: str, server_uuid: str, domain: str = "demo-shop.de") -> PublicGitApp:
    return PublicGitApp(
        project_uuid=project_uuid,
        server_uuid=server_uuid,
        name="vrs-demo",
        git_repository="https://github.com/vrs/vrs-core.git",
        git_branch="main",
        domains=(f"https://{domain}", f"https://www.{domain}"),
    )


def test_protocol(platform: tuple[Paas, RunningSandbox]) -> None:
    assert isinstance(platform[0], Paas)


async def test_project_lifecycle(platform: tuple[Paas, RunningSandbox]) -> None:
    paas, _ = platform
    project = await paas.create_project(name="vrs-demo", description="VRS Projekt: demo")
    assert (await paas.get_project(uuid=project.uuid)).name == "vrs-demo"
    assert [p.uuid for p in await paas.list_projects()] == [project.uuid]
    await paas.delete_project(uuid=project.uuid)
    with pytest.raises(ProviderError) as caught:
        await paas.get_project(uuid=project.uuid)
    assert caught.value.code == NOT_FOUND


async def test_application_env_deploy(platform: tuple[Paas, RunningSandbox]) -> None:
    paas, _ = platform
    project = await paas.create_project(name="vrs-demo")
    app = await paas.create_public_application(app=_app(project.uuid, await _server_uuid(paas)))
    shown = await paas.get_application(uuid=app.uuid)
    assert shown.status != "running"
    assert shown.fqdn == "https://demo-shop.de,https://www.demo-shop.de"

    single = await paas.create_env(app_uuid=app.uuid, env=EnvVar(key="ONE", value="1"))
    assert single.uuid
    await paas.set_envs(
        app_uuid=app.uuid, envs=[EnvVar(key="ONE", value="uno"), EnvVar(key="TWO", value="2")]
    )
    envs = {e.key: e.value for e in await paas.list_envs(app_uuid=app.uuid)}
    assert envs == {"ONE": "uno", "TWO": "2"}

    action = await paas.deploy(app_uuid=app.uuid)
    done = await action.wait_until_finished(max_retries=100, backoff=constant_backoff(0.1))
    assert done.status == "success"
    assert (await paas.get_deployment(uuid=action.id)).status == "finished"
    assert [d.uuid for d in await paas.list_deployments(app_uuid=app.uuid)] == [action.id]
    assert (await paas.get_application(uuid=app.uuid)).status == "running"

    await paas.stop(app_uuid=app.uuid)
    assert (await paas.get_application(uuid=app.uuid)).status == "exited"
    restarted = await paas.restart(app_uuid=app.uuid)
    await restarted.wait_until_finished(max_retries=100, backoff=constant_backoff(0.1))
    assert (await paas.get_application(uuid=app.uuid)).status == "running"

    await paas.delete_application(uuid=app.uuid)
    await paas.delete_project(uuid=project.uuid)
    assert await paas.list_applications() == []


async def test_failed_deployment(platform: tuple[Paas, RunningSandbox]) -> None:
    paas, sandbox = platform
    async with httpx.AsyncClient() as http:
        await http.post(
            f"http://127.0.0.1:{sandbox.port}/__sandbox__/deployments", json={"fail": 1}
        )
    project = await paas.create_project(name="vrs-fail")
    app = await paas.create_public_application(
        app=_app(project.uuid, await _server_uuid(paas), "fail.de")
    )
    action = await paas.deploy(app_uuid=app.uuid)
    with pytest.raises(ActionFailed):
        await action.wait_until_finished(max_retries=100, backoff=constant_backoff(0.1))
    assert (await paas.get_application(uuid=app.uuid)).status == "exited"


async def test_validation_and_conflicts(platform: tuple[Paas, RunningSandbox]) -> None:
    paas, _ = platform
    project = await paas.create_project(name="vrs-a")
    server = await _server_uuid(paas)
    with pytest.raises(ProviderError) as caught:
        await paas.create_public_application(
            app=PublicGitApp(
                project_uuid=project.uuid,
                server_uuid=server,
                name="x",
                git_repository="https://github.com/vrs/vrs-core.git",
                git_branch="main",
                build_pack="bogus",
            )
        )
    assert (caught.value.code, caught.value.field) == (VALIDATION_ERROR, "build_pack")
    await paas.create_public_application(app=_app(project.uuid, server, "taken.de"))
    with pytest.raises(ProviderError) as caught:
        await paas.create_public_application(app=_app(project.uuid, server, "taken.de"))
    assert caught.value.code == CONFLICT
    with pytest.raises(ProviderError) as caught:
        await paas.create_public_application(app=_app("missing", server))
    assert caught.value.code == NOT_FOUND


async def test_hetzner_server_through_platform(platform: tuple[Paas, RunningSandbox]) -> None:
    paas, _ = platform
    created = await paas.create_hetzner_server(
        request=HetznerServerRequest(
            location="fsn1",
            server_type="cx23",
            image=161547269,
            private_key_uuid=SEED_KEY_UUID,
            cloud_provider_token_uuid=SEED_CLOUD_TOKEN_UUID,
            name="vrs-server-3",
        )
    )
    assert created.ip
    assert (await paas.get_server(uuid=created.uuid)).name == "vrs-server-3"
    with pytest.raises(ProviderError) as caught:
        await paas.create_hetzner_server(
            request=HetznerServerRequest(
                location="fsn1",
                server_type="cx22",  # removed by Hetzner after 2025: Hetzner refuses it
                image=161547269,
                private_key_uuid=SEED_KEY_UUID,
                cloud_provider_token_uuid=SEED_CLOUD_TOKEN_UUID,
            )
        )
    # Coolify answers whatever Hetzner refuses with its catch-all 500.
    assert caught.value.code == API_ERROR
    assert "Failed to create Hetzner server." in caught.value.message
