"""Projects: create (starts the provisioning operation), list, show, retry, suspend, resume,
archive, and the life after provisioning as operations (`project/lifecycle.py`): redeploy,
restart, stop, start, edit, delete.

States: draft → provisioning → active; error (with the failing step and reason) → retry →
provisioning; active ⇄ suspended (the application stopped); active ⇄ stopped (stop, start);
archived (application, Coolify project and DNS records removed, the domain kept). A deleted
project is gone; its operations stay.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.dns.service import validate_name
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.models import Operation, Project
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import ACTIVE
from stellwerk.project.lifecycle import KINDS as ACTION_KINDS
from stellwerk.project.repository import ProjectRepository
from stellwerk.project.workflow import ENV_KEYS, KIND, remove_resources
from stellwerk.provider import connect
from stellwerk.provider.paas.base import EnvVar, PaasServer
from stellwerk.registrar.service import normalize_domain

STATES = ("draft", "provisioning", "active", "error", "suspended", "stopped", "archived")
# The states each action starts from.
ACTION_STATES = {
    "redeploy": ("active", "stopped", "suspended"),
    "restart": ("active",),
    "stop": ("active",),
    "start": ("stopped", "suspended"),
    "edit": ("active", "stopped", "suspended"),
    "delete": ("draft", "active", "error", "stopped", "suspended", "archived"),
}
ACTION_MESSAGES = {
    "redeploy": "Redeploying",
    "restart": "Restarting",
    "stop": "Stopping",
    "start": "Starting",
    "edit": "Applying changes to",
    "delete": "Deleting",
}
# Variables Stellwerk sets itself: the owner cannot override them.
RESERVED_ENV = frozenset(ENV_KEYS)
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_BRANCH = re.compile(r"^(?![-/.])[A-Za-z0-9._/-]{1,200}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
MAX_DOMAINS = 20
MAX_ENV = 100
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_PLUGIN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class WrongState(Conflict):
    default_code = "invalid_state"


class ProjectBusy(Conflict):
    default_code = "project_busy"


def _plugins(values: Sequence[str], known: Sequence[str]) -> list[str]:
    """The plugins asked for, each one of `known` (`STELLWERK_PROJECT_PLUGINS`)."""
    cleaned: list[str] = []
    for value in values:
        for part in value.split(","):
            plugin = part.strip().lower()
            if not plugin:
                continue
            if not _PLUGIN.match(plugin):
                raise ValidationFailed(f"{part!r} is not a plugin name", field="plugins")
            if plugin not in known:
                raise ValidationFailed(unknown_plugin(plugin, known), field="plugins")
            if plugin not in cleaned:
                cleaned.append(plugin)
    return cleaned


def unknown_plugin(plugin: str, known: Sequence[str]) -> str:
    """The message for a plugin that is not in `known`, with the closest known ones."""
    close = difflib.get_close_matches(plugin, known, n=3)
    if close:
        return f"There is no plugin {plugin!r}; did you mean {' or '.join(close)}?"
    return f"There is no plugin {plugin!r}; the plugins are {', '.join(known) or 'none'}"


class ProjectService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        principal: Principal,
        *,
        name: str,
        domain: str,
        known_plugins: Sequence[str],
        plugins: Sequence[str] = (),
        server_uuid: str | None = None,
        register_domain: bool = False,
        create_server: bool = False,
        dns_provider: str | None = None,
    ) -> tuple[Project, Operation]:
        name = name.strip().lower()
        if not _NAME.match(name):
            raise ValidationFailed(
                "A project name is 1-40 lower-case letters, digits and inner dashes", field="name"
            )
        domain = normalize_domain(domain)
        if dns_provider is not None and dns_provider not in connect.dns_providers():
            raise ValidationFailed(
                f"The DNS provider is one of {', '.join(connect.dns_providers())}",
                field="dns_provider",
            )
        if server_uuid is not None and create_server:
            raise ValidationFailed(
                "Give a server_uuid or ask for a new server, not both", field="server_uuid"
            )
        repository = ProjectRepository(session)
        if await repository.by_name(name) is not None:
            raise Conflict(f"A project named {name} exists", code="project_exists", field="name")
        if await repository.by_domain(domain) is not None:
            raise Conflict(f"A project uses {domain}", code="domain_in_use", field="domain")
        if await DnsZoneRepository(session).others_overlapping(principal, domain):
            raise Conflict(
                f"{domain} is in a DNS zone that belongs to someone else",
                code="domain_in_use",
                field="domain",
            )
        project = await repository.add(
            Project(
                name=name,
                domain=domain,
                plugins=_plugins(plugins, known_plugins),
                state="draft",
                register_domain=register_domain,
                create_server=create_server,
                server_uuid=server_uuid,
                dns_provider=dns_provider,
                dns_records=[],
                owner_user_id=actor.user_id,
            )
        )
        await audit.record(
            session,
            actor,
            "project.create",
            target_type="project",
            target_id=project.id,
            detail={"name": name, "domain": domain, "plugins": project.plugins},
        )
        operation = await self._start(session, actor, project, attempt="provision")
        return project, operation

    async def _start(
        self, session: AsyncSession, actor: Actor, project: Project, *, attempt: str
    ) -> Operation:
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=KIND,
            input={"project_id": project.id, "from_step": project.error_step},
            idempotency_key=f"project-{project.id}-{attempt}",
            target_type="project",
            target_id=project.id,
            message=f"Provisioning {project.name}",
        )
        project.state = "provisioning"
        project.operation_id = operation.id
        await session.flush()
        return operation

    async def get(self, session: AsyncSession, principal: Principal, project_id: int) -> Project:
        """A project `principal` may see; anyone else's is not found."""
        project = await ProjectRepository(session).get_readable(principal, project_id)
        if project is None:
            raise NotFound(f"No project with id {project_id}")
        return project

    async def find(self, session: AsyncSession, principal: Principal, ref: str) -> Project:
        """A project by id or by name (the CLI takes either)."""
        if ref.isdecimal():
            return await self.get(session, principal, int(ref))
        project = await ProjectRepository(session).by_name_readable(principal, ref.strip().lower())
        if project is None:
            raise NotFound(f"No project {ref}")
        return project

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        params: PageParams,
        state: str | None = None,
    ) -> tuple[Sequence[Project], int]:
        if state is not None and state not in STATES:
            raise ValidationFailed(f"The state is one of {', '.join(STATES)}", field="state")
        return await ProjectRepository(session).list(
            principal, offset=params.offset, limit=params.per_page, state=state
        )

    async def operations(
        self, session: AsyncSession, projects: Sequence[Project]
    ) -> dict[uuid.UUID | None, Operation]:
        ids = [p.operation_id for p in projects if p.operation_id is not None]
        return dict((await ProjectRepository(session).operations(ids)).items())

    async def servers(self, settings: Settings) -> Sequence[PaasServer]:
        """The Coolify servers a project can deploy to (for choosing one in a form)."""
        async with connect.paas(settings) as paas:
            return await paas.list_servers()

    async def retry(self, session: AsyncSession, actor: Actor, project: Project) -> Operation:
        """Run the flow again from the failed step (earlier steps only look and find)."""
        if project.state != "error":
            raise WrongState(f"Only a project in error can be retried (it is {project.state})")
        attempt = f"retry-{project.operation_id}"
        await audit.record(
            session,
            actor,
            "project.retry",
            target_type="project",
            target_id=project.id,
            detail={"from_step": project.error_step},
        )
        return await self._start(session, actor, project, attempt=attempt)

    async def suspend(
        self, session: AsyncSession, settings: Settings, actor: Actor, project: Project
    ) -> Project:
        if project.state != "active":
            raise WrongState(f"Only an active project can be suspended (it is {project.state})")
        async with connect.paas(settings) as paas:
            await paas.stop(app_uuid=str(project.coolify_app_uuid))
        project.state = "suspended"
        await session.flush()
        await audit.record(
            session, actor, "project.suspend", target_type="project", target_id=project.id
        )
        return project

    async def resume(
        self, session: AsyncSession, settings: Settings, actor: Actor, project: Project
    ) -> Project:
        if project.state != "suspended":
            raise WrongState(f"Only a suspended project can be resumed (it is {project.state})")
        async with connect.paas(settings) as paas:
            action = await paas.start(app_uuid=str(project.coolify_app_uuid))
        project.deployment_uuid = action.id
        project.state = "active"
        await session.flush()
        await audit.record(
            session, actor, "project.resume", target_type="project", target_id=project.id
        )
        return project

    async def archive(
        self, session: AsyncSession, settings: Settings, actor: Actor, project: Project
    ) -> Project:
        """Remove the application, the Coolify project and the DNS records; keep the domain."""
        if project.state in ("provisioning", "archived"):
            raise WrongState(f"A project that is {project.state} cannot be archived")
        await remove_resources(connect.Providers(settings), project)
        project.state = "archived"
        await session.flush()
        await audit.record(
            session, actor, "project.archive", target_type="project", target_id=project.id
        )
        return project

    # --- the life after provisioning: each action one operation ---------------------------------

    async def _act(
        self,
        session: AsyncSession,
        actor: Actor,
        project: Project,
        action: str,
        *,
        input: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Operation:
        """Start `action`'s operation. While one of the project's operations runs, asking for
        the same action again answers that operation; any other action is refused."""
        current = await ProjectRepository(session).operation(project.operation_id)
        if current is not None and current.status in ACTIVE:
            if current.kind == ACTION_KINDS[action]:
                return current
            raise ProjectBusy(
                f"{project.name} is busy ({current.kind}, {current.status}): wait until "
                f"operation {current.id} finished"
            )
        if project.state not in ACTION_STATES[action]:
            raise WrongState(
                f"A project that is {project.state} cannot be asked to {action} (only when "
                f"{' or '.join(ACTION_STATES[action])})"
            )
        if action != "delete" and project.coolify_app_uuid is None:
            raise WrongState(f"{project.name} has no application to {action}")
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=ACTION_KINDS[action],
            input={"project_id": project.id, **(input or {})},
            idempotency_key=f"project-{project.id}-{action}-{uuid.uuid4().hex}",
            target_type="project",
            target_id=project.id,
            message=f"{ACTION_MESSAGES[action]} {project.name}",
        )
        project.operation_id = operation.id
        await session.flush()
        await audit.record(
            session,
            actor,
            f"project.{action}",
            target_type="project",
            target_id=project.id,
            detail={"operation_id": str(operation.id), **(detail or {})},
        )
        return operation

    async def redeploy(
        self,
        session: AsyncSession,
        actor: Actor,
        project: Project,
        *,
        branch: str | None = None,
        commit: str | None = None,
    ) -> Operation:
        """A new deployment: of the same commit, or of `branch` (its head) and/or `commit`."""
        if branch is not None and not _BRANCH.match(branch):
            raise ValidationFailed(f"{branch!r} is not a branch name", field="branch")
        if commit is not None:
            commit = commit.lower()
            if not _COMMIT.match(commit):
                raise ValidationFailed("A commit is 7-40 hexadecimal digits", field="commit")
        source = {"branch": branch, "commit": commit}
        return await self._act(session, actor, project, "redeploy", input=source, detail=source)

    async def restart(self, session: AsyncSession, actor: Actor, project: Project) -> Operation:
        return await self._act(session, actor, project, "restart")

    async def stop(self, session: AsyncSession, actor: Actor, project: Project) -> Operation:
        return await self._act(session, actor, project, "stop")

    async def start_app(self, session: AsyncSession, actor: Actor, project: Project) -> Operation:
        return await self._act(session, actor, project, "start")

    async def delete(
        self, session: AsyncSession, actor: Actor, project: Project, *, delete_zone: bool = False
    ) -> Operation:
        """Remove the application, the Coolify project, the DNS records the project created and
        (`delete_zone`) its zone; keep the domain registration; forget the project."""
        if project.state == "provisioning":
            raise WrongState("A project that is provisioning cannot be deleted")
        flags = {"delete_zone": delete_zone}
        return await self._act(session, actor, project, "delete", input=flags, detail=flags)

    async def edit(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        project: Project,
        *,
        plugins: Sequence[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        domains: Sequence[str] | None = None,
    ) -> Operation:
        """Change plugins, environment variables (a value of None removes the variable) and
        further domains (names inside the project's domain). The variables are written to
        Coolify now (their values never enter the workflow tables); the operation applies
        plugins and names and, for a running project, deploys again."""
        if project.state not in ACTION_STATES["edit"] or project.coolify_app_uuid is None:
            raise WrongState(f"A project that is {project.state} cannot be edited")
        hosts = None if domains is None else _edit_domains(project, domains)
        variables = None if env is None else _edit_env(env)
        current = await ProjectRepository(session).operation(project.operation_id)
        if current is not None and current.status in ACTIVE:
            raise ProjectBusy(
                f"{project.name} is busy ({current.kind}, {current.status}): wait until "
                f"operation {current.id} finished"
            )
        if variables:
            await _write_env(settings, project, variables)
            keys = set(project.env_keys)
            keys |= {k for k, v in variables.items() if v is not None}
            keys -= {k for k, v in variables.items() if v is None}
            project.env_keys = sorted(keys)
        if plugins is not None:
            project.plugins = _plugins(plugins, settings.project_plugin_list)
        if hosts is not None:
            project.domains = hosts
        detail: dict[str, Any] = {
            "plugins": project.plugins,
            "domains": project.domains,
            # Keys only: values are the owner's secrets.
            "env_set": sorted(k for k, v in (variables or {}).items() if v is not None),
            "env_removed": sorted(k for k, v in (variables or {}).items() if v is None),
        }
        return await self._act(
            session,
            actor,
            project,
            "edit",
            input={"deploy": project.state == "active"},
            detail=detail,
        )


def _edit_domains(project: Project, domains: Sequence[str]) -> list[str]:
    """Further names, in full (`shop.example.com`) or as one label (`shop`), inside the
    project's domain; neither the domain nor its www (always served) nor a wildcard."""
    hosts: list[str] = []
    for raw in domains:
        name = raw.strip().rstrip(".").lower()
        inside = name.endswith("." + project.domain) or "." not in name
        relative = validate_name(name, project.domain) if inside else None
        if relative is None:
            raise ValidationFailed(
                f"{raw!r} is not inside {project.domain}: give a name such as "
                f"shop.{project.domain} (or just shop)",
                field="domains",
            )
        if relative in ("@", "www") or relative.startswith("*"):
            raise ValidationFailed(
                f"{raw!r}: the domain and www.{project.domain} are always served; give "
                f"further names inside {project.domain}",
                field="domains",
            )
        host = f"{relative}.{project.domain}"
        if host not in hosts:
            hosts.append(host)
    if len(hosts) > MAX_DOMAINS:
        raise ValidationFailed(f"At most {MAX_DOMAINS} further domains", field="domains")
    return hosts


def _edit_env(env: Mapping[str, str | None]) -> dict[str, str | None]:
    if len(env) > MAX_ENV:
        raise ValidationFailed(f"At most {MAX_ENV} variables at once", field="env")
    for key, value in env.items():
        if not _ENV_KEY.match(key):
            raise ValidationFailed(
                f"{key!r} is not a variable name (letters, digits, _)", field="env"
            )
        if key.upper() in RESERVED_ENV:
            raise ValidationFailed(f"{key} is set by Stellwerk", field="env")
        if value is not None and (len(value) > 4000 or "\x00" in value):
            raise ValidationFailed(
                f"The value of {key} is at most 4000 characters, without NUL", field="env"
            )
    return dict(env)


async def _write_env(
    settings: Settings, project: Project, variables: Mapping[str, str | None]
) -> None:
    app_uuid = str(project.coolify_app_uuid)
    async with connect.paas(settings) as paas:
        values = [
            EnvVar(key=k, value=v, is_literal=True) for k, v in variables.items() if v is not None
        ]
        if values:
            await paas.set_envs(app_uuid=app_uuid, envs=values)
        removed = {k for k, v in variables.items() if v is None}
        if removed:
            for existing in await paas.list_envs(app_uuid=app_uuid):
                if existing.key in removed and existing.uuid:
                    await paas.delete_env(app_uuid=app_uuid, env_uuid=existing.uuid)


project_service = ProjectService()
