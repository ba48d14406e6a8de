"""The `Paas` Protocol: projects, applications from public git, environment variables,
start/stop/restart/deploy, application and deployment status, servers (Coolify's model).

Deployments are long work: `deploy` returns an `Action` whose `wait_until_finished` polls the
deployment until it is finished or failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from stellwerk.provider.action import Action

# Application states (Coolify reports `running:healthy`, `exited:unhealthy`, ...; the adapter
# keeps the part before the colon here and the rest in `health`).
APP_RUNNING = "running"


@dataclass(frozen=True)
class PaasProject:
    uuid: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class PaasServer:
    uuid: str
    name: str
    ip: str | None
    reachable: bool | None = None


@dataclass(frozen=True)
class PaasApplication:
    uuid: str
    name: str
    status: str
    health: str | None = None
    fqdn: str | None = None
    project_uuid: str | None = None
    git_repository: str | None = None
    git_branch: str | None = None


@dataclass(frozen=True)
class EnvVar:
    key: str
    value: str
    is_preview: bool = False
    is_literal: bool = True
    uuid: str | None = None


@dataclass(frozen=True)
class Deployment:
    uuid: str
    status: str  # queued | in_progress | finished | failed | cancelled-by-user
    application_uuid: str | None = None
    # Coolify names the application by its numeric id (`application_id`).
    application_id: str | None = None
    # The build and run log as text, one line per entry (`[time] output`); None when the
    # provider gives none (Coolify shows it only to tokens with `read:sensitive`).
    logs: str | None = None


@dataclass(frozen=True)
class PublicGitApp:
    """An application built from a public git repository."""

    project_uuid: str
    server_uuid: str
    name: str
    git_repository: str
    git_branch: str
    environment_name: str = "production"
    build_pack: str = "nixpacks"
    ports_exposes: str = "8000"
    domains: Sequence[str] = ()
    is_force_https_enabled: bool = True
    is_auto_deploy_enabled: bool = False
    health_check_enabled: bool = True
    health_check_path: str = "/health"
    health_check_interval: int = 30
    description: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HetznerServerRequest:
    """A Hetzner server created by Coolify (`POST /servers/hetzner`)."""

    location: str
    server_type: str
    image: int
    private_key_uuid: str
    cloud_provider_token_uuid: str
    name: str | None = None
    enable_ipv4: bool = True
    enable_ipv6: bool = True
    instant_validate: bool = True


@dataclass(frozen=True)
class CreatedHetznerServer:
    uuid: str
    hetzner_server_id: int | None
    ip: str | None


@runtime_checkable
class Paas(Protocol):
    name: str

    # Projects
    async def list_projects(self) -> list[PaasProject]: ...
    async def get_project(self, *, uuid: str) -> PaasProject: ...
    async def create_project(self, *, name: str, description: str | None = None) -> PaasProject: ...
    async def delete_project(self, *, uuid: str) -> None: ...

    # Applications
    async def list_applications(self) -> list[PaasApplication]: ...
    async def get_application(self, *, uuid: str) -> PaasApplication: ...
    async def create_public_application(self, *, app: PublicGitApp) -> PaasApplication: ...
    async def delete_application(self, *, uuid: str) -> None: ...
    async def update_application(
        self,
        *,
        uuid: str,
        git_branch: str | None = None,
        git_commit_sha: str | None = None,
        domains: Sequence[str] | None = None,
    ) -> None: ...

    # Environment variables
    async def list_envs(self, *, app_uuid: str) -> list[EnvVar]: ...
    async def create_env(self, *, app_uuid: str, env: EnvVar) -> EnvVar: ...
    async def set_envs(self, *, app_uuid: str, envs: Sequence[EnvVar]) -> list[EnvVar]:
        """Create or update many variables in one call (the bulk endpoint)."""
        ...

    async def delete_env(self, *, app_uuid: str, env_uuid: str) -> None: ...

    # Lifecycle
    async def deploy(self, *, app_uuid: str, force: bool = False) -> Action: ...
    async def start(self, *, app_uuid: str) -> Action: ...
    async def stop(self, *, app_uuid: str) -> None: ...
    async def restart(self, *, app_uuid: str) -> Action: ...
    async def get_deployment(self, *, uuid: str) -> Deployment: ...
    async def list_deployments(self, *, app_uuid: str) -> list[Deployment]: ...

    # Servers
    async def list_servers(self) -> list[PaasServer]: ...
    async def get_server(self, *, uuid: str) -> PaasServer: ...
    async def create_hetzner_server(
        self, *, request: HetznerServerRequest
    ) -> CreatedHetznerServer: ...

    async def aclose(self) -> None: ...
