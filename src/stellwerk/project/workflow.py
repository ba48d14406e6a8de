"""Provisioning a project as one durable workflow (vrs-api-integrations.md §7).

domain (check → register if asked) → server (optional: Hetzner through Coolify; else the
configured one) → DNS → Coolify project → application → environment → deploy (one at a time per
Coolify instance) → poll until running (durable sleep) → verify health.

Every step looks before it creates (a crash or a retry never buys, records or creates twice),
transient provider failures are retried 3 times with exponential backoff, and on failure the
created application, Coolify project and DNS records are removed again. A registered domain is
never deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from typing import Any

import httpx
from dbos import DBOS, SetWorkflowID

from stellwerk.audit.actor import Actor
from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.dns.service import setup_project_dns
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.principal import Principal
from stellwerk.identity.role import Role, is_company_role
from stellwerk.kit import netguard
from stellwerk.kit.query import insert_first
from stellwerk.kit.time import utc_now
from stellwerk.models import DnsZone, Project, User
from stellwerk.notify.service import notifier
from stellwerk.operation import engine
from stellwerk.operation.context import StepContext, workflow_context
from stellwerk.operation.workflow import (
    OperationContext,
    operation_workflow,
    step,
)
from stellwerk.project.repository import ProjectRepository
from stellwerk.provider.connect import Providers
from stellwerk.provider.dns.base import DnsRecord
from stellwerk.provider.error import NOT_FOUND, ProviderError
from stellwerk.provider.paas.base import (
    APP_RUNNING,
    EnvVar,
    HetznerServerRequest,
    Paas,
    PaasServer,
    PublicGitApp,
)
from stellwerk.registrar.repository import RegistrarRepository
from stellwerk.registrar.service import normalize_domain
from stellwerk.registrar.service import registrar as registrar_service

log = logging.getLogger(__name__)

KIND = "project.provision"
DEPLOY_QUEUE = "coolify-deploy"
ACTIVE_DEPLOYMENT = ("queued", "in_progress")
# Deployments to one Coolify instance run one after another (§6.2).
engine.register_queue(DEPLOY_QUEUE, global_concurrency=1)

STEPS = (
    "domain",
    "server",
    "dns",
    "coolify_project",
    "application",
    "environment",
    "deploy",
    "running",
    "health",
)
PROGRESS = {
    "domain": (5, "Checking the domain"),
    "server": (15, "Choosing the server"),
    "dns": (25, "Setting DNS records"),
    "coolify_project": (35, "Creating the Coolify project"),
    "application": (45, "Creating the application"),
    "environment": (55, "Setting environment variables"),
    "deploy": (65, "Deploying (waiting for the deploy queue)"),
    "running": (85, "Waiting until the application runs"),
    "health": (95, "Verifying the health URL"),
}
ENV_KEYS = (
    "VRS_PROJECT_ID",
    "VRS_MARKETPLACE_URL",
    "VRS_MARKETPLACE_KEY",
    "VRS_PLUGINS",
    "SECRET_KEY",
    "DATABASE_URL",
)
MARKETPLACE_KEY_PREFIX = "vrs_mk_"
HEALTH_MAX_BYTES = 1024 * 1024


class StepFailed(StellwerkError):
    status_code = 502
    default_kind = "provisioning_failed"
    default_code = "step_failed"


def _transient(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.transient


RETRY: dict[str, Any] = {
    "retries_allowed": True,
    "max_attempts": 3,
    "interval_seconds": 1.0,
    "backoff_rate": 2.0,
    "should_retry": _transient,
}


def app_name(project: Project) -> str:
    return f"vrs-{project.name}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def _load(session: Any, project_id: int) -> Project:
    project = await ProjectRepository(session).get(project_id)
    if project is None:
        raise StepFailed(f"project {project_id} is gone", code="project_missing")
    return project


async def _read(ctx: StepContext, project_id: int) -> Project:
    """The project as it is now, in a transaction of its own (closed before any provider call)."""
    async with ctx.database.session() as session:
        return await _load(session, project_id)


async def _save(ctx: StepContext, project_id: int, **values: Any) -> None:
    """Write what a provider call gave, in a transaction of its own."""
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        for name, value in values.items():
            setattr(project, name, value)


# --- steps ----------------------------------------------------------------------------------


@step("project.domain", **RETRY)
async def step_domain(ctx: StepContext, project_id: int) -> dict[str, Any]:
    """The domain is ours afterwards, bought at most once. What is known is read, the registrar
    and the DNS provider are asked with no transaction open, and what they did is recorded in a
    transaction of its own; a retry after a crash in between finds the domain in the registrar
    account and records it instead of buying it again."""
    settings = ctx.settings
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        if not project.register_domain:
            return {"domain": project.domain, "registered": False}
        existing = await RegistrarRepository(session).domain(normalize_domain(project.domain))
        if existing is None:
            plan = await registrar_service.plan_registration(
                session, settings, domain=project.domain, dns_provider=project.dns_provider
            )
    if existing is not None:
        return {"domain": existing.name, "registered": True, "status": existing.status}
    acquired = await registrar_service.acquire(settings, plan)
    async with ctx.database.session() as session:
        domain = await registrar_service.record(
            session, Actor.system(), plan, acquired, existing_ok=True
        )
        return {"domain": domain.name, "registered": True, "status": domain.status}


async def _pick_server(ctx: StepContext, paas: Paas, wanted: str | None) -> PaasServer:
    settings = ctx.settings
    if wanted:
        return await paas.get_server(uuid=wanted)
    if settings.coolify_default_server_uuid:
        return await paas.get_server(uuid=settings.coolify_default_server_uuid)
    servers = await paas.list_servers()
    if not servers:
        raise StepFailed("Coolify has no server to deploy to", code="no_server")
    # In sandbox mode, the sandbox's pre-seeded server (the documents' `hetzner-1`).
    seeded = ctx.providers.sandbox_seed("coolify", "server_name")
    named = [s for s in servers if s.name == seeded]
    return (named or servers)[0]


async def _create_server(ctx: StepContext, paas: Paas, project: Project) -> PaasServer:
    """A Hetzner server through Coolify's `POST /servers/hetzner`, chosen from the live catalog."""
    settings = ctx.settings
    name = f"vrs-{project.name}"
    for server in await paas.list_servers():
        if server.name == name:  # created before a crash or retry
            return server
    catalog = getattr(paas, "hetzner_catalog", None)
    token = settings.coolify_hetzner_token_uuid or ctx.providers.sandbox_seed(
        "coolify", "hetzner_token_uuid"
    )
    key = settings.coolify_private_key_uuid or ctx.providers.sandbox_seed(
        "coolify", "private_key_uuid"
    )
    if catalog is None or not token or not key:
        raise StepFailed(
            "Creating servers needs COOLIFY_HETZNER_TOKEN_UUID and COOLIFY_PRIVATE_KEY_UUID",
            code="server_not_configured",
        )
    types = await catalog(kind="server-types", cloud_provider_token_uuid=token)
    names = [t["name"] for t in types]
    server_type = settings.project_hetzner_server_type
    chosen = next((t for t in types if t["name"] == server_type), None)
    if chosen is None:
        raise StepFailed(
            f"Server type {server_type} is not offered (live catalog: {', '.join(names)})",
            code="server_type_unavailable",
        )
    # Images exist per architecture under one name (x86 and arm `ubuntu-24.04`).
    architecture = chosen.get("architecture", "x86")
    images = await catalog(kind="images", cloud_provider_token_uuid=token)
    image = next(
        (
            i
            for i in images
            if i.get("name") == settings.project_hetzner_image
            and i.get("architecture", "x86") == architecture
        ),
        None,
    )
    if image is None:
        raise StepFailed(
            f"No {architecture} image {settings.project_hetzner_image}", code="image_unavailable"
        )
    created = await paas.create_hetzner_server(
        request=HetznerServerRequest(
            location=settings.project_hetzner_location,
            server_type=server_type,
            image=int(image["id"]),
            private_key_uuid=key,
            cloud_provider_token_uuid=token,
            name=name,
        )
    )
    return PaasServer(uuid=created.uuid, name=name, ip=created.ip)


@step("project.server", **RETRY)
async def step_server(ctx: StepContext, project_id: int) -> dict[str, Any]:
    settings = ctx.settings
    project = await _read(ctx, project_id)
    async with ctx.providers.paas() as paas:
        if project.create_server and not project.server_uuid:
            server = await _create_server(ctx, paas, project)
        else:
            server = await _pick_server(ctx, paas, project.server_uuid)
    ip = server.ip or settings.project_server_ip
    if not ip:
        raise StepFailed(f"Server {server.name} has no IP address", code="no_server_ip")
    await _save(ctx, project_id, server_uuid=server.uuid, server_ip=ip)
    return {"server_uuid": server.uuid, "ip": ip}


def _record_json(record: DnsRecord, created: bool) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "type": record.type,
        "content": record.content,
        "ttl": record.ttl,
        "created": created,
    }


async def _zone_principal(session: Any, project: Project) -> Principal:
    """Whose zone the project's is: its owner's if a customer owns the project, else the
    company's (a zone no customer owns)."""
    owner = await session.get(User, project.owner_user_id) if project.owner_user_id else None
    if owner is not None and not is_company_role(owner.role):
        return Principal(user_id=owner.id, role=Role.CUSTOMER)
    return Principal(user_id=None, role=Role.STAFF)


async def _claim_zone(ctx: StepContext, project_id: int, provider: str) -> str:
    """Record the project's zone before anything is written at the provider, as the project
    owner's zone (a customer's) or the company's. Refuses a zone that is, contains or lies inside
    a zone someone else owns: on a shared name server the most specific zone answers."""
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        principal = await _zone_principal(session, project)
        zones = DnsZoneRepository(session)
        if await zones.others_overlapping(principal, project.domain):
            raise StepFailed(
                f"{project.domain} is in a DNS zone that belongs to someone else",
                code="zone_not_yours",
            )
        zone = await zones.get(project.domain)
        if zone is None:
            zone = DnsZone(name=project.domain, provider=provider, owner_user_id=principal.user_id)
            if not await insert_first(session, zone):
                zone = await zones.get(project.domain)
        if zone is None or zone.owner_user_id != principal.user_id:
            raise StepFailed(
                f"The DNS zone {project.domain} belongs to someone else", code="zone_not_yours"
            )
        return zone.provider


async def _unrecorded_zones_at(ctx: StepContext, provider: str, domain: str) -> list[str]:
    """The zones at the provider that are `domain` or contain it (not the top-level domain)."""
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    found = []
    async with ctx.providers.dns(provider) as dns:
        for name in candidates:
            try:
                await dns.get_zone(zone=name)
            except ProviderError as error:
                if error.code != NOT_FOUND:
                    raise
                continue
            found.append(name)
    return found


@step("project.dns", **RETRY)
async def step_dns(ctx: StepContext, project_id: int) -> dict[str, Any]:
    settings = ctx.settings
    # Read what is needed, then talk to the provider with no transaction open.
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        domain, server_ip = project.domain, str(project.server_ip)
        zone = await DnsZoneRepository(session).get(domain)
        provider = project.dns_provider or (
            zone.provider if zone else settings.dns_default_provider
        )
        previous = {str(r.get("id")): bool(r.get("created")) for r in project.dns_records}
        known = zone is not None
    if not known:
        # A customer's project never takes over a zone that exists at the provider without being
        # recorded here, nor puts a zone inside one: it may be the company's or another
        # customer's, and the most specific zone on a shared name server answers.
        async with ctx.database.session() as session:
            principal = await _zone_principal(session, await _load(session, project_id))
            recorded = {z.name for z in await DnsZoneRepository(session).overlapping(domain)}
        if principal.user_id is not None:
            unrecorded = [
                z for z in await _unrecorded_zones_at(ctx, provider, domain) if z not in recorded
            ]
            if unrecorded:
                raise StepFailed(
                    f"The DNS zone {unrecorded[0]} exists at {provider} but is not recorded as "
                    "yours; ask the company to assign it to you",
                    code="zone_not_yours",
                )
    provider = await _claim_zone(ctx, project_id, provider)
    async with ctx.providers.dns(provider) as dns:
        existing_ids: set[str] = set()
        try:
            existing_ids = {r.id for r in await dns.list_records(zone=domain)}
        except ProviderError as error:
            if error.code != NOT_FOUND:
                raise
        # A record in the way is replaced only if this project created it.
        owned = {record_id for record_id, created in previous.items() if created}
        records = await setup_project_dns(dns, domain, server_ip, owned=owned)
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        project.dns_provider = provider
        project.dns_records = [
            _record_json(r, previous.get(r.id, r.id not in existing_ids)) for r in records
        ]
    return {"records": [r.id for r in records], "provider": provider}


@step("project.coolify_project", **RETRY)
async def step_coolify_project(ctx: StepContext, project_id: int) -> dict[str, Any]:
    project = await _read(ctx, project_id)
    async with ctx.providers.paas() as paas:
        found = None
        for candidate in await paas.list_projects():
            if candidate.uuid == project.coolify_project_uuid or candidate.name == app_name(
                project
            ):
                found = candidate
                break
        if found is None:
            found = await paas.create_project(
                name=app_name(project), description=f"VRS Projekt: {project.name}"
            )
    await _save(ctx, project_id, coolify_project_uuid=found.uuid)
    return {"coolify_project_uuid": found.uuid}


@step("project.application", **RETRY)
async def step_application(ctx: StepContext, project_id: int) -> dict[str, Any]:
    settings = ctx.settings
    project = await _read(ctx, project_id)
    async with ctx.providers.paas() as paas:
        found = None
        for candidate in await paas.list_applications():
            if candidate.uuid == project.coolify_app_uuid or candidate.name == app_name(project):
                found = candidate
                break
        if found is None:
            found = await paas.create_public_application(
                app=PublicGitApp(
                    project_uuid=str(project.coolify_project_uuid),
                    server_uuid=str(project.server_uuid),
                    name=app_name(project),
                    description=f"VRS Projekt: {project.name}",
                    git_repository=settings.vrs_core_repo,
                    git_branch=settings.vrs_core_branch,
                    build_pack="nixpacks",
                    ports_exposes="8000",
                    domains=(f"https://{project.domain}", f"https://www.{project.domain}"),
                    is_force_https_enabled=True,
                    is_auto_deploy_enabled=False,
                    health_check_enabled=True,
                    health_check_path="/health",
                    health_check_interval=30,
                )
            )
    await _save(ctx, project_id, coolify_app_uuid=found.uuid)
    return {"coolify_app_uuid": found.uuid}


def _marketplace_url(settings: Settings) -> str:
    return settings.marketplace_url or settings.public_url or f"http://127.0.0.1:{settings.port}"


@step("project.environment", **RETRY)
async def step_environment(ctx: StepContext, project_id: int) -> dict[str, Any]:
    """The project's variables in one bulk call. The marketplace key is fresh per project and
    kept only as a hash here; a retry keeps the key the application already has."""
    settings = ctx.settings
    project = await _read(ctx, project_id)
    app_uuid = str(project.coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        current = {e.key: e.value for e in await paas.list_envs(app_uuid=app_uuid)}
        key = current.get("VRS_MARKETPLACE_KEY")
        if not key or project.marketplace_key_hash != hash_key(key):
            key = MARKETPLACE_KEY_PREFIX + secrets.token_urlsafe(32)
        secret_key = current.get("SECRET_KEY") or secrets.token_urlsafe(48)
        values = {
            "VRS_PROJECT_ID": str(project.id),
            "VRS_MARKETPLACE_URL": _marketplace_url(settings),
            "VRS_MARKETPLACE_KEY": key,
            "VRS_PLUGINS": ",".join(project.plugins),
            "SECRET_KEY": secret_key,
        }
        if settings.project_database_url:
            values["DATABASE_URL"] = settings.project_database_url.replace(
                "{project}", project.name
            )
        await paas.set_envs(
            app_uuid=app_uuid,
            envs=[EnvVar(key=k, value=v, is_literal=True) for k, v in values.items()],
        )
    await _save(ctx, project_id, marketplace_key_hash=hash_key(key))
    return {"keys": sorted(values)}


@step("project.known_deployments", **RETRY)
async def step_known_deployments(ctx: StepContext, project_id: int) -> list[str]:
    """The application's deployments before this one is asked for (recorded by the engine)."""
    async with ctx.database.session() as session:
        app_uuid = str((await _load(session, project_id)).coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        return [deployment.uuid for deployment in await paas.list_deployments(app_uuid=app_uuid)]


@step("project.start_deployment", **RETRY)
async def step_start_deployment(ctx: StepContext, project_id: int, known: list[str]) -> str:
    project = await _read(ctx, project_id)
    app_uuid = str(project.coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        if project.deployment_uuid:
            try:
                previous = await paas.get_deployment(uuid=project.deployment_uuid)
            except ProviderError as error:
                if error.code != NOT_FOUND:
                    raise
            else:
                if previous.status in ACTIVE_DEPLOYMENT and (
                    previous.application_uuid in (None, app_uuid)
                ):
                    return previous.uuid  # started before a crash: follow that one
        # A retry after a lost answer: Coolify started the deployment, we never learnt its
        # uuid. It is the one that was not there before (deployments run one at a time).
        fresh = [
            deployment.uuid
            for deployment in await paas.list_deployments(app_uuid=app_uuid)
            if deployment.uuid not in known
        ]
        deployment_uuid = fresh[0] if fresh else (await paas.deploy(app_uuid=app_uuid)).id
    await _save(ctx, project_id, deployment_uuid=deployment_uuid)
    return deployment_uuid


# What is kept of a deployment's log: its tail, as many characters as this.
DEPLOY_LOG_MAX_CHARS = 64 * 1024


def log_tail(text: str, limit: int = DEPLOY_LOG_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "…\n" + cut[cut.find("\n") + 1 :] if "\n" in cut else cut


@step("project.deployment_status", **RETRY)
async def step_deployment_status(ctx: StepContext, deployment_uuid: str) -> str:
    """The deployment's status; its log so far is kept on the project (read while it runs,
    and kept after)."""
    async with ctx.providers.paas() as paas:
        deployment = await paas.get_deployment(uuid=deployment_uuid)
    if deployment.logs is not None:
        async with ctx.database.session() as session:
            project = await ProjectRepository(session).by_deployment(deployment_uuid)
            if project is not None:
                project.deploy_log = log_tail(deployment.logs)
    return deployment.status


@DBOS.workflow(name="project.deploy")
async def deploy_workflow(project_id: int) -> dict[str, Any]:
    """Runs on the deploy queue (one at a time): start the deployment and follow it."""
    ctx = workflow_context()
    known = await step_known_deployments(ctx, project_id)
    deployment_uuid = await step_start_deployment(ctx, project_id, known)
    return await follow_deployment(ctx, deployment_uuid)


async def follow_deployment(ctx: StepContext, deployment_uuid: str) -> dict[str, Any]:
    """Inside a workflow: poll the deployment (durable sleeps between) until it ends or the
    deploy timeout passes."""
    settings = ctx.settings
    polls = max(1, int(settings.project_deploy_timeout_seconds / settings.project_poll_seconds))
    for _ in range(polls):
        status = await step_deployment_status(ctx, deployment_uuid)
        if status == "finished":
            return {"status": "finished", "deployment_uuid": deployment_uuid}
        if status in ("failed", "cancelled-by-user", "cancelled"):
            return {"status": "failed", "deployment_uuid": deployment_uuid, "detail": status}
        await DBOS.sleep_async(settings.project_poll_seconds)
    return {"status": "timeout", "deployment_uuid": deployment_uuid}


@step("project.app_status", **RETRY)
async def step_app_status(ctx: StepContext, project_id: int) -> dict[str, Any]:
    project = await _read(ctx, project_id)
    async with ctx.providers.paas() as paas:
        app = await paas.get_application(uuid=str(project.coolify_app_uuid))
    return {"status": app.status, "health": app.health}


@step("project.health", **RETRY)
async def step_health(ctx: StepContext, project_id: int) -> dict[str, Any]:
    settings = ctx.settings
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        domain = project.domain
    # Sandbox mode: the Coolify sandbox answers for its deployed applications.
    template = settings.project_health_url or ctx.providers.sandbox_health_url("coolify")
    url = (template or "https://{domain}/health").replace("{domain}", domain)
    deadline = time.monotonic() + settings.project_health_timeout_seconds
    last = "no answer"
    while time.monotonic() < deadline:
        # Plain http only where the operator configured it (or the sandbox answers).
        problem = await check_health(url, allow_http=template is not None)
        if problem is None:
            return {"verified_by": url, "status": 200}
        last = problem
        await asyncio.sleep(min(5.0, settings.project_poll_seconds))
    raise StepFailed(f"{url} did not answer 200 ({last})", code="health_failed")


async def check_health(url: str, *, allow_http: bool) -> str | None:
    """None when `url` answers 200, else why not. The domain is the customer's: the request goes
    through the SSRF guard, and so does every redirect it follows."""
    try:
        # Private addresses stay reachable here, as before (a project on the company's LAN).
        await netguard.guarded_get(
            url,
            allow_http=allow_http,
            allow_private=True,
            max_bytes=HEALTH_MAX_BYTES,
            timeout=10.0,
        )
    except netguard.UnsafeUrl as error:
        return str(error)
    except httpx.HTTPError as error:
        return type(error).__name__
    return None


@step("project.activate")
async def step_activate(ctx: StepContext, project_id: int) -> dict[str, Any]:
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        project.state = "active"
        project.live_url = f"https://{project.domain}"
        project.error_step = project.error_message = None
        first_time = project.activated_at is None
        project.activated_at = project.activated_at or utc_now()
        await notifier.emit(
            session,
            "project.live",
            {
                "project_id": project.id,
                "name": project.name,
                "domain": project.domain,
                "live_url": project.live_url,
                "first_time": first_time,
                "path": f"/ui/projects/{project.id}",
                "summary": f"Project {project.name} is live at {project.live_url}",
            },
            key=f"project.live:{project.id}:{project.operation_id}",
        )
        return {
            "project_id": project.id,
            "live_url": project.live_url,
            "coolify_project_uuid": project.coolify_project_uuid,
            "coolify_app_uuid": project.coolify_app_uuid,
            "dns_records": [r["id"] for r in project.dns_records],
        }


async def remove_resources(providers: Providers, project: Project) -> None:
    """Remove the application, the Coolify project and the DNS records this project created;
    never the domain. Missing pieces are fine (already gone). A piece that cannot go now does
    not keep the others: the first failure is raised after every piece was tried, and what was
    removed is forgotten, so a retry only tries the rest."""
    failures: list[ProviderError] = []
    try:
        async with providers.paas() as paas:
            if project.coolify_app_uuid:
                # Waits until Coolify's deletion job ran: until then the project "has resources".
                await _ignore_missing(paas.delete_application(uuid=project.coolify_app_uuid))
                project.coolify_app_uuid = None
                project.deployment_uuid = None
            if project.coolify_project_uuid:
                await _ignore_missing(paas.delete_project(uuid=project.coolify_project_uuid))
                project.coolify_project_uuid = None
    except ProviderError as error:
        failures.append(error)
    if project.dns_records and project.dns_provider:
        try:
            async with providers.dns(project.dns_provider) as dns:
                for record in list(project.dns_records):
                    if record.get("created", True):
                        await _ignore_missing(
                            dns.delete_record(zone=project.domain, record_id=str(record["id"]))
                        )
                    project.dns_records = [
                        r for r in project.dns_records if r.get("id") != record.get("id")
                    ]
        except ProviderError as error:
            failures.append(error)
    if failures:
        raise failures[0]
    project.deployment_uuid = None
    project.dns_records = []
    project.live_url = None


async def _ignore_missing(call: Any) -> None:
    try:
        await call
    except ProviderError as error:
        if error.code != NOT_FOUND:
            raise


# What `remove_resources` changes on the project as it removes each piece.
_REMOVAL_FIELDS = ("coolify_app_uuid", "coolify_project_uuid", "deployment_uuid", "dns_records")


async def remove_resources_of(ctx: StepContext, project_id: int) -> None:
    """`remove_resources` for a workflow step: no transaction is open during the provider
    calls, and what was removed is stored even when a piece could not go (a retry tries the
    rest)."""
    project = await _read(ctx, project_id)
    try:
        await remove_resources(ctx.providers, project)
    finally:
        await _save(
            ctx,
            project_id,
            live_url=project.live_url,
            **{name: getattr(project, name) for name in _REMOVAL_FIELDS},
        )


@step("project.compensate", **RETRY)
async def step_compensate(ctx: StepContext, project_id: int) -> None:
    await remove_resources_of(ctx, project_id)


@step("project.fail")
async def step_fail(ctx: StepContext, project_id: int, step: str, message: str) -> None:
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        project.state = "error"
        project.error_step = step
        project.error_message = message[:2000]


def _message(error: BaseException) -> str:
    if isinstance(error, StellwerkError):
        return error.message
    errors = getattr(error, "errors", None)  # DBOS: retries exhausted
    if errors:
        return _message(errors[-1])
    return f"{type(error).__name__}: {error}"


# --- the workflow -----------------------------------------------------------------------------


@operation_workflow(KIND)
async def provision(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    project_id = int(input["project_id"])
    settings = ctx.settings
    current = "domain"

    async def enter(step: str) -> None:
        nonlocal current
        current = step
        percent, message = PROGRESS[step]
        await ctx.progress(percent, message, step=step)

    try:
        await enter("domain")
        await step_domain(ctx, project_id)
        await enter("server")
        await step_server(ctx, project_id)
        await enter("dns")
        await step_dns(ctx, project_id)
        await enter("coolify_project")
        await step_coolify_project(ctx, project_id)
        await enter("application")
        await step_application(ctx, project_id)
        await enter("environment")
        await step_environment(ctx, project_id)
        await enter("deploy")
        queue = await DBOS.retrieve_queue_async(DEPLOY_QUEUE)
        if queue is None:
            raise StepFailed("the deploy queue is not registered")
        with SetWorkflowID(f"{ctx.operation_id}-deploy"):
            handle = await queue.enqueue_async(deploy_workflow, project_id)
        deployed = await handle.get_result(polling_interval_sec=0.5)
        if deployed["status"] != "finished":
            detail = "timed out" if deployed["status"] == "timeout" else "failed"
            raise StepFailed(f"Coolify deployment {deployed['deployment_uuid']} {detail}")
        await enter("running")
        polls = max(1, int(settings.project_deploy_timeout_seconds / settings.project_poll_seconds))
        for _ in range(polls):
            status = await step_app_status(ctx, project_id)
            if status["status"] == APP_RUNNING:
                break
            await DBOS.sleep_async(settings.project_poll_seconds)
        else:
            raise StepFailed("The application did not start in time", code="not_running")
        await enter("health")
        await step_health(ctx, project_id)
        result = await step_activate(ctx, project_id)
    except Exception as error:
        message = _message(error)
        log.warning(
            "project provisioning failed",
            extra={"project_id": project_id, "step": current, "error": message},
        )
        try:
            await step_compensate(ctx, project_id)
        finally:
            await step_fail(ctx, project_id, current, message)
        raise StepFailed(f"{current}: {message}", code="step_failed") from error
    await ctx.progress(100, f"Live at {result['live_url']}", step="active")
    return result
