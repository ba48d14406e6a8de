"""The reconciliation report: our database next to each provider's own state.

Read only: nothing is changed on either side. Each area is compared separately and a provider
that cannot be asked is reported as such (an unchecked area is not a matching one):

- servers, per compute provider account: servers at the provider we do not know (orphans, with
  whether they carry a Stellwerk marker), our servers the provider no longer has (missing), and
  status differences;
- registrar domains: domains in the registrar account without a record here, and ours the
  registrar does not list;
- Coolify: the project and application of every project, and `vrs-*` projects and
  applications no project refers to;
- modules: every instance's unit in its runtime, and units no instance refers to (Docker
  containers and Swarm services of this installation in any state, processes while they run).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.models import ModuleInstance, ServiceProvider, VpsInstance
from stellwerk.module.runtimes import MISSING, RUNNING, runtime_for
from stellwerk.provider import connect, registry
from stellwerk.provider.compute.base import Server
from stellwerk.provider.error import MISSING_CREDENTIALS, ProviderError
from stellwerk.reconcile.repository import ReconcileRepository
from stellwerk.registrar.service import PROVIDER as REGISTRAR
from stellwerk.server.compute import connected

log = logging.getLogger(__name__)

ORPHAN = "orphan"  # at the provider, not in our database
MISSING_AT_PROVIDER = "missing"  # in our database, not at the provider
STATUS = "status"  # both have it; they disagree about its state
UNREACHABLE = "unreachable"  # the provider could not be asked

# Instances whose server is expected to exist at the provider.
SERVER_GONE = ("deleted", "failed")
# Our name prefix for Coolify projects and applications (see project.workflow.app_name).
COOLIFY_PREFIX = "vrs-"
# An update starts its candidate unit under the instance's name with this tail.
CANDIDATE_MARK = "-next"


@dataclass(frozen=True)
class Finding:
    area: str  # servers | domains | coolify | modules
    scope: str  # the provider account or runtime
    kind: str  # orphan | missing | status | unreachable
    subject: str  # the resource: server id, domain, uuid, unit
    ours: str | None = None
    theirs: str | None = None
    detail: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # What was compared, per area and scope, e.g. {"servers": {"Hetzner": 3}}.
    checked: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return not self.findings

    def count(self, area: str, scope: str, compared: int) -> None:
        self.checked.setdefault(area, {})[scope] = compared

    def as_json(self) -> dict[str, Any]:
        return {
            "matches": self.matches,
            "checked": self.checked,
            "findings": [asdict(f) for f in self.findings],
        }


class ReconcileService:
    async def report(self, session: AsyncSession, settings: Settings) -> Report:
        report = Report()
        repository = ReconcileRepository(session)
        await self.servers(repository, settings, report)
        await self.domains(repository, settings, report)
        await self.coolify(repository, settings, report)
        await self.modules(repository, settings, report)
        return report

    # --- servers --------------------------------------------------------------------------
    async def servers(
        self, repository: ReconcileRepository, settings: Settings, report: Report
    ) -> None:
        for provider in await repository.compute_providers(registry.compute_types()):
            scope = f"{provider.name} ({provider.type})"
            instances = await repository.instances(provider)
            try:
                theirs = await self._list_servers(provider, settings)
            except ProviderError as error:
                report.findings.append(
                    Finding("servers", scope, UNREACHABLE, provider.type, detail=error.message)
                )
                continue
            report.count("servers", scope, len(theirs))
            report.findings.extend(compare_servers(scope, instances, theirs))

    @staticmethod
    async def _list_servers(provider: ServiceProvider, settings: Settings) -> list[Server]:
        async with connected(provider, settings) as compute:
            return await compute.list_servers()

    # --- registrar domains ------------------------------------------------------------------
    async def domains(
        self, repository: ReconcileRepository, settings: Settings, report: Report
    ) -> None:
        ours = {d.name: d for d in await repository.registrar_domains(REGISTRAR)}

        async def listed() -> list[Any]:
            async with connect.registrar(settings) as registrar:
                return await registrar.list_domains()

        theirs_list = await _ask(report, "domains", REGISTRAR, listed, required=bool(ours))
        if theirs_list is None:
            return
        theirs = {d.domain: d for d in theirs_list}
        report.count("domains", REGISTRAR, len(theirs))
        for name in sorted(set(theirs) - set(ours)):
            report.findings.append(
                Finding(
                    "domains",
                    REGISTRAR,
                    ORPHAN,
                    name,
                    theirs=theirs[name].status,
                    detail="in the registrar account, not in Stellwerk",
                )
            )
        for name in sorted(set(ours) - set(theirs)):
            domain = ours[name]
            if domain.status == "failed":
                continue
            report.findings.append(
                Finding(
                    "domains",
                    REGISTRAR,
                    MISSING_AT_PROVIDER,
                    name,
                    ours=domain.status,
                    detail="the registrar does not list it",
                )
            )

    # --- Coolify ----------------------------------------------------------------------------
    async def coolify(
        self, repository: ReconcileRepository, settings: Settings, report: Report
    ) -> None:
        projects = list(await repository.projects())
        referenced = [p for p in projects if p.coolify_project_uuid or p.coolify_app_uuid]

        async def listed() -> tuple[list[Any], list[Any]]:
            async with connect.paas(settings) as paas:
                return await paas.list_projects(), await paas.list_applications()

        answer = await _ask(report, "coolify", "coolify", listed, required=bool(referenced))
        if answer is None:
            return
        their_projects = {p.uuid: p for p in answer[0]}
        their_apps = {a.uuid: a for a in answer[1]}
        report.count("coolify", "coolify", len(their_projects) + len(their_apps))
        known_projects = {p.coolify_project_uuid for p in projects}
        known_apps = {p.coolify_app_uuid for p in projects}
        for project in referenced:
            for kind, uuid, pool in (
                ("project", project.coolify_project_uuid, their_projects),
                ("application", project.coolify_app_uuid, their_apps),
            ):
                if uuid and uuid not in pool:
                    report.findings.append(
                        Finding(
                            "coolify",
                            "coolify",
                            MISSING_AT_PROVIDER,
                            uuid,
                            ours=project.name,
                            detail=f"the {kind} of project {project.name} is gone",
                        )
                    )
        for kind, pool, known in (
            ("project", their_projects, known_projects),
            ("application", their_apps, known_apps),
        ):
            for uuid, item in sorted(pool.items()):
                if item.name.startswith(COOLIFY_PREFIX) and uuid not in known:
                    report.findings.append(
                        Finding(
                            "coolify",
                            "coolify",
                            ORPHAN,
                            uuid,
                            theirs=item.name,
                            detail=f"a {kind} no project refers to",
                        )
                    )

    # --- modules ----------------------------------------------------------------------------
    async def modules(
        self, repository: ReconcileRepository, settings: Settings, report: Report
    ) -> None:
        instances = list(await repository.module_instances())
        by_runtime: dict[str, list[ModuleInstance]] = {}
        for instance in instances:
            by_runtime.setdefault(instance.runtime, []).append(instance)
        for name, group in sorted(by_runtime.items()):
            try:
                live = await runtime_for(name, settings).statuses([i.unit_name for i in group])
            except Exception as error:  # a runtime that cannot be asked (no Docker, say)
                report.findings.append(
                    Finding("modules", name, UNREACHABLE, name, detail=str(error)[:300])
                )
                continue
            report.count("modules", name, len(group))
            for instance in group:
                state = live.get(instance.unit_name, MISSING)
                if (instance.status == RUNNING) != (state == RUNNING):
                    report.findings.append(
                        Finding(
                            "modules",
                            name,
                            MISSING_AT_PROVIDER if state == MISSING else STATUS,
                            instance.unit_name,
                            ours=instance.status,
                            theirs=state,
                            detail=f"{instance.module_name} {instance.version}",
                        )
                    )
        # Units no instance refers to, in every runtime in use and the configured one.
        for name in sorted({*by_runtime, settings.module_runtime}):
            report.findings.extend(await orphan_units(settings, name, by_runtime.get(name, [])))


async def _ask(
    report: Report,
    area: str,
    scope: str,
    call: Callable[[], Awaitable[Any]],
    *,
    required: bool,
) -> Any:
    """The provider's answer, or None: unconfigured and unused is fine; unreachable is not."""
    try:
        return await call()
    except ProviderError as error:
        if error.code == MISSING_CREDENTIALS and not required:
            return None
        report.findings.append(Finding(area, scope, UNREACHABLE, scope, detail=error.message))
        return None


def compare_servers(
    scope: str, instances: Sequence[VpsInstance], servers: list[Server]
) -> list[Finding]:
    findings: list[Finding] = []
    theirs = {s.id: s for s in servers}
    ours: dict[str, VpsInstance] = {}
    for instance in instances:
        if instance.provider_instance_id and instance.status not in SERVER_GONE:
            ours[instance.provider_instance_id] = instance
    all_ids = {i.provider_instance_id for i in instances if i.provider_instance_id}
    # Made, but the creation has not recorded the id yet: an operation in flight, not an orphan.
    creating = {
        str(i.id) for i in instances if i.status == "provisioning" and not i.provider_instance_id
    }
    for server_id, instance in ours.items():
        server = theirs.get(server_id)
        if server is None:
            findings.append(
                Finding(
                    "servers",
                    scope,
                    MISSING_AT_PROVIDER,
                    server_id,
                    ours=instance.status,
                    detail=f"{instance.label} ({instance.id})",
                )
            )
        elif server.status != instance.status:
            findings.append(
                Finding(
                    "servers",
                    scope,
                    STATUS,
                    server_id,
                    ours=instance.status,
                    theirs=server.status,
                    detail=instance.label,
                )
            )
    for server_id, server in sorted(theirs.items()):
        if server_id in ours or (server.marker and server.marker in creating):
            continue
        if server.marker:
            detail = f"{server.name}: made for instance {server.marker}"
            if server_id in all_ids:
                detail += ", which is recorded as deleted or failed"
        else:
            detail = f"{server.name}: not made by Stellwerk (`stellwerk servers import`)"
        findings.append(
            Finding("servers", scope, ORPHAN, server_id, theirs=server.status, detail=detail)
        )
    return findings


async def orphan_units(
    settings: Settings, runtime_name: str, instances: list[ModuleInstance]
) -> list[Finding]:
    """Units of this installation (`{stack}_…`) that no instance refers to, update candidates
    included: Docker containers and Swarm services in any state, processes while they run."""
    runtime = runtime_for(runtime_name, settings)
    try:
        units = await runtime.units()
        prefix = f"{settings.module_stack_name}_"
        known = {i.unit_name for i in instances}
        strays = [u for u in units if u.startswith(prefix) and u not in known]
        live = await runtime.statuses(strays) if strays else {}
    except Exception as error:
        if instances:  # reported as unreachable with the instances already
            return []
        log.debug("reconcile: %s runtime not checked for strays: %s", runtime_name, error)
        return []  # a runtime nothing uses, not reachable here (no Docker): nothing to find
    return [
        Finding(
            "modules",
            runtime_name,
            ORPHAN,
            unit,
            theirs=live.get(unit, MISSING),
            detail="an update candidate left behind"
            if unit.endswith(CANDIDATE_MARK)
            else "a unit without an instance",
        )
        for unit in strays
        if runtime_name != "process" or live.get(unit) == RUNNING
    ]


reconcile_service = ReconcileService()
