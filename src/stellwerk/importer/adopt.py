"""Adopt what already runs at the providers: the INWX account's domains and DNS zones, and
Coolify's applications as projects. Nothing at the provider is changed: the importers only list
and read there, and record here what they found, marked with `adopted_at`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.exceptions import ValidationFailed
from stellwerk.importer.plan import ImportPlan
from stellwerk.kit.time import utc_now
from stellwerk.models import DnsZone, Project, RegistrarDomain
from stellwerk.project.repository import ProjectRepository
from stellwerk.provider import connect
from stellwerk.provider.dns.base import DnsRecord
from stellwerk.provider.paas.base import APP_RUNNING, PaasApplication
from stellwerk.registrar.repository import RegistrarRepository
from stellwerk.registrar.service import normalize_domain

INWX = "inwx"
COOLIFY = "coolify"
_NOT_NAME = re.compile(r"[^a-z0-9]+")
NAME_LENGTH = 40


def _record(record: DnsRecord) -> dict[str, object]:
    return {"name": record.name, "type": record.type, "content": record.content, "ttl": record.ttl}


async def plan_domains(session: AsyncSession, settings: Settings) -> ImportPlan:
    """Every domain of the INWX account and every zone on its name servers, with its records."""
    plan = ImportPlan(INWX)
    async with connect.registrar(settings, INWX) as registrar:
        domains = await registrar.list_domains()
    async with connect.dns(settings, INWX) as dns:
        zones = await dns.list_zones()
        records = {z.name: await dns.list_records(zone=z.name) for z in zones}

    registrar_rows = RegistrarRepository(session)
    for found in sorted(domains, key=lambda d: d.domain):
        try:
            name = normalize_domain(found.domain)
        except ValidationFailed as error:
            plan.add("domain", found.domain, "refuse", error.message)
            continue
        existing = await registrar_rows.domain(name)
        if existing is not None:
            if existing.provider != INWX:
                plan.add("domain", name, "refuse", f"recorded here for {existing.provider}")
            else:
                plan.add("domain", name, "skip", "already here")
            continue
        row = RegistrarDomain(
            name=name,
            provider=INWX,
            provider_domain_id=found.id,
            status=found.status if found.status in ("active", "pending") else "active",
            origin="adopted",
            expires_at=found.expires_at,
        )

        async def add_domain(row: RegistrarDomain = row) -> None:
            row.adopted_at = utc_now()
            if row.status == "active":
                row.completed_at = row.adopted_at
            await registrar_rows.add(row)

        plan.add(
            "domain",
            name,
            "create",
            "in the INWX account, not here",
            step=add_domain,
            status=row.status,
            expires_at=found.expires_at,
        )

    zone_rows = DnsZoneRepository(session)
    for zone in sorted(zones, key=lambda z: z.name):
        listed = [_record(r) for r in records[zone.name]]
        existing_zone = await zone_rows.get(zone.name)
        if existing_zone is not None:
            if existing_zone.provider != INWX:
                plan.add("zone", zone.name, "refuse", f"served by {existing_zone.provider} here")
            else:
                plan.add("zone", zone.name, "skip", "already here", records=len(listed))
            continue
        owned = [z.name for z in await zone_rows.overlapping(zone.name) if z.owner_user_id]
        if owned:
            plan.add("zone", zone.name, "refuse", f"overlaps a customer's zone ({owned[0]})")
            continue

        async def add_zone(name: str = zone.name) -> None:
            await zone_rows.add(DnsZone(name=name, provider=INWX, adopted_at=utc_now()))

        plan.add(
            "zone",
            zone.name,
            "create",
            f"on the INWX name servers with {len(listed)} record(s)",
            step=add_zone,
            records=listed,
        )
    return plan


def _host(fqdn: str | None) -> str | None:
    """The first domain of a Coolify `fqdn` ("https://a.example.com,https://b.example.com")."""
    for part in (fqdn or "").split(","):
        part = part.strip()
        if not part:
            continue
        host = urlsplit(part if "://" in part else f"http://{part}").hostname
        if host:
            return host.lower()
    return None


def _name(app: PaasApplication, taken: set[str]) -> str:
    base = _NOT_NAME.sub("-", app.name.lower()).strip("-")[:NAME_LENGTH].strip("-") or "app"
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"-{n}"
        name = base[: NAME_LENGTH - len(suffix)].strip("-") + suffix
    taken.add(name)
    return name


async def plan_projects(
    session: AsyncSession, settings: Settings, *, owner_user_id: int | None = None
) -> ImportPlan:
    """Coolify's applications as projects, matched with the projects here by domain (an
    application's first domain). Coolify's projects themselves only group applications."""
    plan = ImportPlan(COOLIFY)
    async with connect.paas(settings, COOLIFY) as paas:
        apps: Sequence[PaasApplication] = await paas.list_applications()
    repository = ProjectRepository(session)
    taken: set[str] = set()
    for app in sorted(apps, key=lambda a: (a.name, a.uuid)):
        host = _host(app.fqdn)
        if host is None:
            plan.add("application", app.uuid, "refuse", "has no domain to match a project by")
            continue
        try:
            domain = normalize_domain(host)
        except ValidationFailed as error:
            plan.add("application", app.uuid, "refuse", error.message)
            continue
        known = await repository.by_coolify_app(app.uuid)
        if known is not None:
            plan.add("application", app.uuid, "skip", f"is project {known.name}", domain=domain)
            continue
        project = await repository.by_domain(domain)
        if project is not None:
            if project.coolify_app_uuid:
                plan.add(
                    "application",
                    app.uuid,
                    "refuse",
                    f"project {project.name} uses {domain} with another application",
                )
                continue

            async def link(project: Project = project, app: PaasApplication = app) -> None:
                project.coolify_project_uuid = app.project_uuid
                project.coolify_app_uuid = app.uuid
                project.live_url = project.live_url or f"https://{project.domain}"
                await repository.add(project)

            plan.add(
                "application",
                app.uuid,
                "update",
                f"runs project {project.name}'s domain {domain}",
                step=link,
                project=project.name,
                domain=domain,
            )
            continue
        name = _name(app, taken)
        while await repository.by_name(name) is not None:
            name = _name(app, taken)

        async def adopt(name: str = name, domain: str = domain, app: PaasApplication = app) -> None:
            now = utc_now()
            await repository.add(
                Project(
                    name=name,
                    domain=domain,
                    plugins=[],
                    state="active",
                    dns_records=[],
                    coolify_project_uuid=app.project_uuid,
                    coolify_app_uuid=app.uuid,
                    live_url=f"https://{domain}",
                    owner_user_id=owner_user_id,
                    activated_at=now if app.status == APP_RUNNING else None,
                    adopted_at=now,
                )
            )

        plan.add(
            "application",
            app.uuid,
            "create",
            f"no project uses {domain}",
            step=adopt,
            project=name,
            domain=domain,
            status=app.status,
        )
    return plan
