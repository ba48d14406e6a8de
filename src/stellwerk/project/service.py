"""Projects: create (starts the provisioning operation), list, show, retry, suspend, resume,
archive.

States: draft → provisioning → active; error (with the failing step and reason) → retry →
provisioning; active ⇄ suspended (the application stopped); archived (application, Coolify
project and DNS records removed, the domain kept).
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.models import Operation, Project
from stellwerk.operation.service import operation as operation_service
from stellwerk.project.repository import ProjectRepository
from stellwerk.project.workflow import KIND, remove_resources
from stellwerk.provider import connect
from stellwerk.provider.paas.base import PaasServer
from stellwerk.registrar.service import normalize_domain

STATES = ("draft", "provisioning", "active", "error", "suspended", "archived")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_PLUGIN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class WrongState(Conflict):
    default_code = "invalid_state"


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
        await remove_resources(settings, project)
        project.state = "archived"
        await session.flush()
        await audit.record(
            session, actor, "project.archive", target_type="project", target_id=project.id
        )
        return project


project_service = ProjectService()
