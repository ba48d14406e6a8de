"""The module manager: repository configuration, the catalog, instances and their operations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.kit.netguard import PrivateAddress, Unresolvable, UnsafeUrl, check_url
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import utc_now
from stellwerk.models import ModuleInstance, ModuleRepository, Operation, OperationPrompt
from stellwerk.module import workflow
from stellwerk.module.files import ModuleFiles
from stellwerk.module.frontends import frontend_url
from stellwerk.module.manifest import (
    IndexModule,
    IndexVersion,
    RepositoryIndex,
    VersionOrder,
    check_instance_id,
    check_module_name,
    is_newer,
)
from stellwerk.module.pins import module_pin
from stellwerk.module.repository import (
    ModuleInstanceRepository,
    ModuleOperationRepository,
    ModuleRepositoryRepository,
)
from stellwerk.module.runtimes import (
    ERROR,
    MAX_LOG_LINES,
    MISSING,
    RUNNING,
    STOPPED,
    SWARM_NAME_LIMIT,
    RuntimeUnavailable,
    runtime_for,
    unit_name,
)
from stellwerk.module.schemas import (
    CatalogModule,
    CatalogResponse,
    InstanceLogs,
    ModuleInstanceGroup,
    ModuleInstanceRead,
    ModuleInstancesResponse,
    OperationResponse,
    RepositoryCreate,
    RepositoryListResponse,
    RepositoryStats,
    RepositoryUpdate,
)
from stellwerk.module.sources import (
    BUILTIN_URL,
    RepositorySource,
    RepositoryUnavailable,
    index_cache,
)
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.schemas import PromptRead
from stellwerk.operation.service import operation as operation_service

BUILTIN_ID = "local-module-repository"


def common_host(instances: Sequence[ModuleInstance]) -> str | None:
    """The one host work on all of `instances` must run on (None: any worker; instances
    without a recorded host count for none); instances on several hosts are refused: each
    host's processes are stopped on that host."""
    hosts = {workflow.instance_host(instance) for instance in instances} - {None}
    if len(hosts) > 1:
        raise Conflict(
            "The instances run on several hosts; act on them one instance at a time",
            code="several_hosts",
        )
    return next(iter(hosts), None)


class ModuleNotFound(NotFound):
    default_code = "module_not_found"


class InstanceNotFound(NotFound):
    default_code = "instance_not_found"


class RepositoryNotFound(NotFound):
    default_code = "repository_not_found"


class AmbiguousModule(Conflict):
    default_code = "ambiguous_module"


def _newer_than(module: IndexModule, version: str, prereleases: bool) -> IndexVersion | None:
    newest = module.newest(prereleases=prereleases)
    return newest if is_newer(newest.version, version) else None


# --- repository configuration ------------------------------------------------------------------


class ModuleRepositoryService:
    async def ensure_builtin(self, session: AsyncSession) -> bool:
        """Register the built-in file repository once (a no-op when it exists)."""
        repositories = ModuleRepositoryRepository(session)
        if await repositories.get(BUILTIN_ID) is not None:
            return False
        return await repositories.add(
            ModuleRepository(
                id=BUILTIN_ID,
                name="Local module repository",
                type="file",
                url=BUILTIN_URL,
                description="Modules shipped with Stellwerk (the v2_dashboard demo)",
                enabled=True,
                priority=1000,
                builtin=True,
            )
        )

    async def get(self, session: AsyncSession, repository_id: str) -> ModuleRepository:
        repository = await ModuleRepositoryRepository(session).get(repository_id)
        if repository is None:
            raise RepositoryNotFound(f"No module repository with id {repository_id}")
        return repository

    async def list(
        self, session: AsyncSession, *, params: PageParams
    ) -> tuple[Sequence[ModuleRepository], int]:
        return await ModuleRepositoryRepository(session).list(
            offset=params.offset, limit=params.per_page
        )

    async def check_location(
        self, kind: str, url: str, *, allow_http: bool = False, allow_private: bool = False
    ) -> None:
        """`ValidationFailed` unless a repository of this kind may be at `url` (see below)."""
        await self._check_location(kind, url, allow_http=allow_http, allow_private=allow_private)

    async def _check_location(
        self, kind: str, url: str, *, allow_http: bool, allow_private: bool
    ) -> None:
        """A file repository names an absolute directory; an https repository's URL must pass
        the outbound guard, its host resolved now (a host that does not resolve yet is checked
        when it is fetched, as every fetch is)."""
        if kind == "file":
            path = Path(url)
            if url == BUILTIN_URL or not path.is_absolute() or ".." in path.parts:
                raise ValidationFailed(
                    "A file repository's url is an absolute directory path", field="url"
                )
            return
        try:
            await check_url(url, allow_http=allow_http, allow_private=allow_private)
        except Unresolvable:
            return
        except PrivateAddress as error:
            raise ValidationFailed(
                f"{error}; an admin can allow loopback and private addresses for this "
                "repository with allow_private",
                field="url",
                code="unsafe_url",
            ) from error
        except UnsafeUrl as error:
            raise ValidationFailed(str(error), field="url", code="unsafe_url") from error

    async def create(
        self, session: AsyncSession, actor: Actor, body: RepositoryCreate
    ) -> ModuleRepository:
        """Add a repository (an admin's call: what it offers can be installed and run)."""
        await self._check_location(
            body.type, body.url, allow_http=body.allow_http, allow_private=body.allow_private
        )
        repositories = ModuleRepositoryRepository(session)
        exists = Conflict(f"A repository with id {body.id} exists", code="repository_exists")
        if await repositories.get(body.id) is not None:
            raise exists
        repository = ModuleRepository(**body.model_dump(), builtin=False)
        if not await repositories.add(repository):
            raise exists  # created by a concurrent request a moment ago
        await audit.record(
            session,
            actor,
            "module.repository.create",
            target_type="module_repository",
            target_id=body.id,
            detail={
                "type": body.type,
                "url": body.url,
                "allow_http": body.allow_http,
                "allow_private": body.allow_private,
            },
        )
        return repository

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        repository: ModuleRepository,
        body: RepositoryUpdate,
    ) -> ModuleRepository:
        changes = body.model_dump(exclude_unset=True)
        if repository.builtin and (
            {"url", "allow_http", "allow_private", "ca_pem"} & changes.keys()
        ):
            raise Conflict(
                "The built-in repository's location cannot change", code="builtin_repository"
            )
        if not changes:
            return repository
        for key, value in changes.items():
            if (
                key in ("name", "enabled", "priority", "allow_http", "allow_private")
                and value is None
            ):
                raise ValidationFailed(f"{key} cannot be null", field=key)
        if not repository.builtin:
            await self._check_location(
                repository.type,
                changes.get("url") or repository.url,
                allow_http=changes.get("allow_http", repository.allow_http),
                allow_private=changes.get("allow_private", repository.allow_private),
            )
        detail: dict[str, object] = {"fields": sorted(changes)}
        for key in ("url", "allow_http", "allow_private"):
            if key in changes and changes[key] != getattr(repository, key):
                detail[key] = changes[key]
        for key, value in changes.items():
            setattr(repository, key, value)
        await session.flush()
        index_cache.forget(repository.id)
        await audit.record(
            session,
            actor,
            "module.repository.update",
            target_type="module_repository",
            target_id=repository.id,
            detail=detail,
        )
        return repository

    async def delete(
        self, session: AsyncSession, actor: Actor, repository: ModuleRepository
    ) -> None:
        if repository.builtin:
            raise Conflict(
                "The built-in repository cannot be deleted; disable it instead",
                code="builtin_repository",
            )
        await ModuleRepositoryRepository(session).delete(repository)
        index_cache.forget(repository.id)
        await audit.record(
            session,
            actor,
            "module.repository.delete",
            target_type="module_repository",
            target_id=repository.id,
        )

    async def refresh(
        self, session: AsyncSession, settings: Settings, repository: ModuleRepository
    ) -> ModuleRepository:
        """Read the index now (past the cache) and remember whether that worked."""
        error: str | None = None
        try:
            await index_cache.get(
                RepositorySource.of(repository),
                ttl=settings.module_index_ttl_seconds,
                refresh=True,
            )
        except RepositoryUnavailable as failure:
            error = failure.message[:1000]
        await ModuleRepositoryRepository(session).record_fetch(
            repository.id, last_error=error, last_fetched_at=utc_now()
        )
        await session.refresh(repository)
        return repository


# --- catalog -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    source: RepositorySource
    module: IndexModule
    version: IndexVersion


class CatalogService:
    async def indexes(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        repository_id: str | None = None,
        refresh: bool = False,
    ) -> tuple[list[tuple[ModuleRepository, RepositoryIndex | None]], dict[str, str]]:
        """Every enabled repository with its index (None where it could not be read)."""
        rows, _ = await ModuleRepositoryRepository(session).list(enabled_only=True)
        if repository_id is not None:
            rows = [r for r in rows if r.id == repository_id]
            if not rows:
                raise RepositoryNotFound(f"No enabled module repository with id {repository_id}")
        sources = [RepositorySource.of(r) for r in rows]
        results = await asyncio.gather(
            *(
                index_cache.get(s, ttl=settings.module_index_ttl_seconds, refresh=refresh)
                for s in sources
            ),
            return_exceptions=True,
        )
        found: list[tuple[ModuleRepository, RepositoryIndex | None]] = []
        errors: dict[str, str] = {}
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, RepositoryIndex):
                found.append((row, result))
            elif isinstance(result, RepositoryUnavailable):
                found.append((row, None))
                errors[row.id] = result.message
            elif isinstance(result, BaseException):
                raise result
        return found, errors

    async def repositories(
        self, session: AsyncSession, settings: Settings
    ) -> RepositoryListResponse:
        indexes, errors = await self.indexes(session, settings)
        counts = await ModuleInstanceRepository(session).installed_counts()
        items: list[RepositoryStats] = []
        all_modules: set[str] = set()
        for row, index in indexes:
            modules = [m.name for m in index.modules] if index else []
            all_modules.update(modules)
            items.append(
                RepositoryStats(
                    id=row.id,
                    name=row.name,
                    type=row.type,
                    url=row.url,
                    enabled=row.enabled,
                    priority=row.priority,
                    allow_private=row.allow_private,
                    module_count=len(modules),
                    installed_count=sum(1 for m in modules if counts.get(m)),
                    categories=sorted(
                        {m.category for m in index.modules if m.category} if index else set()
                    ),
                    modules=sorted(modules),
                    error=errors.get(row.id),
                )
            )
        return RepositoryListResponse(
            repositories=items,
            total_repositories=len(items),
            total_modules=len(all_modules),
            installed_modules=sum(1 for m in all_modules if counts.get(m)),
        )

    async def modules(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        repository_id: str | None = None,
        category: str | None = None,
        search: str | None = None,
        installed: bool | None = None,
    ) -> CatalogResponse:
        indexes, errors = await self.indexes(session, settings, repository_id=repository_id)
        instances = ModuleInstanceRepository(session)
        counts = await instances.installed_counts()
        versions = await instances.installed_versions()
        needle = (search or "").strip().lower()
        items: list[CatalogModule] = []
        categories: set[str] = set()
        for row, index in indexes:
            for module in index.modules if index else []:
                if module.category:
                    categories.add(module.category)
                count = counts.get(module.name, 0)
                if category is not None and (module.category or "").lower() != category.lower():
                    continue
                if installed is not None and (count > 0) != installed:
                    continue
                text = " ".join(
                    filter(None, (module.name, module.display_name, module.description))
                ).lower()
                if needle and needle not in text:
                    continue
                items.append(
                    CatalogModule(
                        id=module.name,
                        name=module.name,
                        display_name=module.display_name,
                        description=module.description,
                        category=module.category,
                        multi_instance=module.multi_instance,
                        latest_version=module.newest().version,
                        versions=[v.version for v in module.sorted_versions()],
                        repository_id=row.id,
                        installed=count > 0,
                        installed_versions=sorted(versions.get(module.name, set())),
                        instance_count=count,
                    )
                )
        return CatalogResponse(
            modules=items, total=len(items), categories=sorted(categories), errors=errors
        )

    async def resolve(
        self,
        session: AsyncSession,
        settings: Settings,
        module_name: str,
        *,
        repository_id: str | None,
        version: str | None,
        fresh: bool = False,
        prereleases: bool = False,
    ) -> Resolved:
        """The repository, index entry and version to install (the newest when `version` is
        None: pre-releases only with `prereleases`, or when there is no release).

        A named repository is used as named. Without one, exactly one enabled repository may
        offer the module: when several do, the request is refused (409 `ambiguous_module`,
        naming them), so a repository can never shadow a module of another by its priority.
        That is decided on indexes read now, not cached ones. Repositories that cannot be read
        at the moment offer nothing.

        A miss in the cached index of a named repository reads it again once: a version
        published a moment ago is installable right away.
        """
        fresh = fresh or repository_id is None
        errors: dict[str, str] = {}
        for refresh in (True,) if fresh else (False, True):
            indexes, errors = await self.indexes(
                session, settings, repository_id=repository_id, refresh=refresh
            )
            offering = [
                (row, module)
                for row, index in indexes
                if index is not None and (module := index.module(module_name)) is not None
            ]
            if len(offering) > 1:
                names = [row.id for row, _ in offering]
                raise AmbiguousModule(
                    f"Module {module_name} is offered by several repositories "
                    f"({', '.join(names)}); name the one to install from with repository_id",
                    field="repository_id",
                    extra={"repositories": names},
                )
            if offering:
                row, module = offering[0]
                chosen = module.find(version, prereleases=prereleases)
                if chosen is not None:
                    return Resolved(RepositorySource.of(row), module, chosen)
                if refresh:
                    raise ModuleNotFound(
                        f"Module {module_name} has no version {version} in repository {row.id}",
                        field="version",
                        code="version_not_found",
                    )
        if repository_id is not None and repository_id in errors:
            raise RepositoryUnavailable(errors[repository_id])
        where = f"repository {repository_id}" if repository_id else "any enabled repository"
        raise ModuleNotFound(f"Module {module_name} is not in {where}", field="module_name")

    async def offers(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        refresh: bool = False,
    ) -> tuple[dict[str, dict[str, IndexModule]], dict[str, str]]:
        """What every enabled repository offers, by module name and repository id; and the
        repositories that could not be read."""
        indexes, errors = await self.indexes(session, settings, refresh=refresh)
        found: dict[str, dict[str, IndexModule]] = {}
        for row, index in indexes:
            for module in index.modules if index else []:
                found.setdefault(module.name, {})[row.id] = module
        return found, errors


# --- instances and operations --------------------------------------------------------------------


def _documented_status(stored: str, live: str | None) -> str:
    if live is None:
        return stored if stored in ("installed", "running", "stopped", "error") else "error"
    if live == RUNNING:
        return "running"
    if live == ERROR:
        return "error"
    if live in (STOPPED, MISSING):
        return "stopped" if stored == "running" else stored
    return stored  # starting


def _relative_path(instance: ModuleInstance) -> str:
    return f"/modules/{instance.module_name}_{instance.id}"


class ModuleInstanceService:
    async def live_statuses(
        self, settings: Settings, instances: Sequence[ModuleInstance]
    ) -> dict[str, str | None]:
        """What each instance's runtime says now (None where the runtime cannot be asked)."""
        by_runtime: dict[str, list[ModuleInstance]] = {}
        for instance in instances:
            by_runtime.setdefault(instance.runtime, []).append(instance)
        live: dict[str, str | None] = {}
        for name, group in by_runtime.items():
            try:
                statuses = await runtime_for(name, settings).statuses([i.unit_name for i in group])
            except (RuntimeUnavailable, Exception):  # a down engine must not break listing
                statuses = {}
            for instance in group:
                live[instance.id] = statuses.get(instance.unit_name)
        return live

    def read(self, instance: ModuleInstance, live: str | None) -> ModuleInstanceRead:
        return ModuleInstanceRead(
            instance_id=instance.id,
            path=_relative_path(instance),
            version=instance.version,
            status=_documented_status(instance.status, live),
            is_primary=instance.is_primary,
            frontend_url=frontend_url(instance),
            created_at=instance.created_at,
            updated_at=instance.updated_at,
        )

    async def list(
        self, session: AsyncSession, settings: Settings, *, module_name: str | None = None
    ) -> ModuleInstancesResponse:
        if module_name is not None:
            check_module_name(module_name)
        instances = await ModuleInstanceRepository(session).list(module_name=module_name)
        live = await self.live_statuses(settings, instances)
        groups: dict[str, ModuleInstanceGroup] = {}
        for instance in instances:
            group = groups.setdefault(
                instance.module_name,
                ModuleInstanceGroup(
                    module_name=instance.module_name, primary_instance_id=None, instances=[]
                ),
            )
            if instance.is_primary:
                group.primary_instance_id = instance.id
            group.instances.append(self.read(instance, live.get(instance.id)))
        return ModuleInstancesResponse(modules=list(groups.values()), total=len(instances))

    async def get(
        self, session: AsyncSession, module_name: str, instance_id: str
    ) -> ModuleInstance:
        check_module_name(module_name)
        check_instance_id(instance_id)
        instance = await ModuleInstanceRepository(session).get(instance_id)
        if instance is None or instance.module_name != module_name:
            raise InstanceNotFound(f"No instance {instance_id} of module {module_name}")
        return instance

    async def primary(self, session: AsyncSession, module_name: str) -> ModuleInstance:
        check_module_name(module_name)
        instance = await ModuleInstanceRepository(session).primary(module_name)
        if instance is None:
            raise ModuleNotFound(f"Module {module_name} is not installed")
        return instance

    async def sources(self, session: AsyncSession) -> dict[str, set[str]]:
        """The repositories each installed module's instances came from."""
        return await ModuleInstanceRepository(session).sources()

    async def logs(
        self,
        settings: Settings,
        instance: ModuleInstance,
        *,
        lines: int = 100,
        after: str | None = None,
    ) -> InstanceLogs:
        """The instance's output: its last `lines` lines, or what it wrote after `after` (the
        cursor of an earlier answer). Process modules' logs are files on the host that runs
        them; container and Swarm modules' come from Docker."""
        if not 1 <= lines <= MAX_LOG_LINES:
            raise ValidationFailed(f"lines is 1 to {MAX_LOG_LINES}", field="lines")
        if after is not None and len(after) > 64:
            raise ValidationFailed("Not a cursor of this instance's log", field="after")
        chunk = await runtime_for(instance.runtime, settings).logs(
            instance.unit_name, lines=lines, after=after
        )
        return InstanceLogs(
            module_name=instance.module_name,
            instance_id=instance.id,
            runtime=instance.runtime,
            lines=chunk.lines,
            cursor=chunk.cursor,
        )

    async def read_one(self, settings: Settings, instance: ModuleInstance) -> ModuleInstanceRead:
        live = await self.live_statuses(settings, [instance])
        return self.read(instance, live.get(instance.id))

    async def set_primary(
        self, session: AsyncSession, actor: Actor, instance: ModuleInstance
    ) -> ModuleInstance:
        instances = ModuleInstanceRepository(session)
        if not instance.is_primary:
            await instances.clear_primary(instance.module_name)
            await instances.set_values(instance.id, is_primary=True)
            await session.flush()
            await session.refresh(instance)
            await audit.record(
                session,
                actor,
                "module.primary.set",
                target_type="module_instance",
                target_id=instance.id,
                detail={"module_name": instance.module_name},
            )
        return instance

    async def _resolve(
        self,
        session: AsyncSession,
        settings: Settings,
        module_name: str,
        installed: Sequence[ModuleInstance],
        *,
        repository_id: str | None,
        version: str | None,
        fresh: bool = False,
        prereleases: bool = False,
    ) -> Resolved:
        """What to install: from the named repository, else from the repository the installed
        instances came from (never another one offering the same name), else from the one
        repository offering the module. The archive's checksum must match its pin, if any."""
        named = repository_id is not None
        if not named:
            sources = sorted({i.repository_id for i in installed if i.repository_id})
            if len(sources) > 1:
                raise AmbiguousModule(
                    f"The instances of {module_name} come from several repositories "
                    f"({', '.join(sources)}); name one with repository_id",
                    field="repository_id",
                    extra={"repositories": sources},
                )
            repository_id = sources[0] if sources else None
        try:
            resolved = await catalog.resolve(
                session,
                settings,
                module_name,
                repository_id=repository_id,
                version=version,
                fresh=fresh,
                prereleases=prereleases,
            )
        except ModuleNotFound as error:
            if named or repository_id is None or version is None:
                raise
            elsewhere = await self._offered_elsewhere(
                session, settings, module_name, repository_id, lambda m: m.find(version)
            )
            if not elsewhere:
                raise
            raise ModuleNotFound(
                f"{module_name} {version} is not in repository {repository_id}, where the "
                f"instances come from, but in {', '.join(elsewhere)}; an update never switches "
                "repository by itself: name the repository to install from with repository_id",
                field="repository_id",
                code="version_in_other_repository",
                extra={"repositories": elsewhere},
            ) from error
        except RepositoryNotFound as error:
            if named:
                raise
            raise RepositoryNotFound(
                f"Module {module_name} is installed from repository {repository_id}, which is "
                "disabled or gone; name the repository to use with repository_id"
            ) from error
        await module_pin.check(
            session,
            resolved.source.id,
            module_name,
            resolved.version.version,
            resolved.version.sha256,
        )
        return resolved

    async def _offered_elsewhere(
        self,
        session: AsyncSession,
        settings: Settings,
        module_name: str,
        source_id: str,
        pick: Callable[[IndexModule], IndexVersion | None],
    ) -> dict[str, str]:
        """Other enabled repositories whose module `pick` finds a version in: {id: version}
        (their indexes read now: what they publish at this moment counts)."""
        offers, _ = await catalog.offers(session, settings, refresh=True)
        found: dict[str, str] = {}
        for repository_id, module in sorted(offers.get(module_name, {}).items()):
            chosen = pick(module) if repository_id != source_id else None
            if chosen is not None:
                found[repository_id] = chosen.version
        return found

    async def _busy(self, session: AsyncSession, module_name: str) -> Operation | None:
        for operation in await ModuleOperationRepository(session).active(workflow.KINDS):
            if operation.input.get("module_name") == module_name:
                return operation
        return None

    async def _existing(
        self, session: AsyncSession, kind: str, idempotency_key: str | None
    ) -> Operation | None:
        if not idempotency_key:
            return None
        return await OperationRepository(session).get_by_key(kind, idempotency_key)

    async def start_install(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        module_name: str,
        repository_id: str | None = None,
        version: str | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        check_module_name(module_name)
        existing = await self._existing(session, workflow.INSTALL, idempotency_key)
        if existing is not None:
            return existing
        resolved = await self._resolve(
            session,
            settings,
            module_name,
            list(await ModuleInstanceRepository(session).list(module_name=module_name)),
            repository_id=repository_id,
            version=version,
        )
        if not resolved.module.multi_instance:
            if await ModuleInstanceRepository(session).count(module_name) > 0:
                raise Conflict(
                    f"Module {module_name} allows only one instance and is already installed",
                    code="single_instance",
                )
            busy = await self._busy(session, module_name)
            if busy is not None and busy.kind == workflow.INSTALL:
                raise Conflict(
                    f"Module {module_name} is being installed (operation {busy.id})",
                    code="operation_in_progress",
                )
        instance_id = uuid.uuid4().hex
        unit = unit_name(settings.module_stack_name, module_name, instance_id)
        if settings.module_runtime == "swarm" and len(unit) > SWARM_NAME_LIMIT:
            raise ValidationFailed(
                f"The service name {unit} would exceed {SWARM_NAME_LIMIT} characters",
                field="module_name",
                code="name_too_long",
            )
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=workflow.INSTALL,
            input={
                "module_name": module_name,
                "instance_id": instance_id,
                "repository": resolved.source.as_dict(),
                "archive": resolved.version.model_dump(mode="json"),
                "runtime": settings.module_runtime,
                "stack": settings.module_stack_name,
            },
            idempotency_key=idempotency_key,
            target_type="module",
            target_id=module_name,
        )
        await audit.record(
            session,
            actor,
            "module.install",
            target_type="module",
            target_id=module_name,
            detail={
                "instance_id": instance_id,
                "version": resolved.version.version,
                "repository_id": resolved.source.id,
                "operation_id": str(operation.id),
            },
        )
        return operation

    async def start_update(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        module_name: str,
        instance_id: str | None = None,
        version: str | None = None,
        repository_id: str | None = None,
        prereleases: bool = False,
        answers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Operation:
        """Update one instance, or all, to `version` or else the newest version.

        Without `repository_id` the version comes from the repository the instances came from;
        a newer version in another repository is reported (409 `update_in_other_repository`,
        naming it) but installed only when the request names that repository, after which the
        instances follow it. Without `version`, only instances older than the newest change.
        """
        check_module_name(module_name)
        existing = await self._existing(session, workflow.UPDATE, idempotency_key)
        if existing is not None:
            return existing
        if instance_id is not None:
            targets = [await self.get(session, module_name, instance_id)]
        else:
            targets = list(await ModuleInstanceRepository(session).list(module_name=module_name))
            if not targets:
                raise ModuleNotFound(f"Module {module_name} is not installed")
        busy = await self._busy(session, module_name)
        if busy is not None:
            raise Conflict(
                f"Module {module_name} has an operation in progress ({busy.id})",
                code="operation_in_progress",
            )
        resolved = await self._resolve(
            session,
            settings,
            module_name,
            targets,
            repository_id=repository_id,
            version=version,
            fresh=True,  # "the newest version" means the newest published now
            prereleases=prereleases,
        )
        chosen = resolved.version.version
        if version is None:
            # The newest: never a step back, and nothing to do for what runs it already.
            pending = [t for t in targets if is_newer(chosen, t.version)]
        else:
            pending = [
                t for t in targets if t.version != chosen or t.repository_id != resolved.source.id
            ]
        if not pending:
            if repository_id is None:
                oldest = min((t.version for t in targets), key=VersionOrder)
                elsewhere = await self._offered_elsewhere(
                    session,
                    settings,
                    module_name,
                    resolved.source.id,
                    lambda m: _newer_than(m, oldest, prereleases),
                )
                if elsewhere:
                    listed = ", ".join(f"{v} in {r}" for r, v in elsewhere.items())
                    raise Conflict(
                        f"{module_name} is at {chosen}, the newest version of repository "
                        f"{resolved.source.id} where it comes from; a newer one is in another "
                        f"repository ({listed}). Name the repository to update from with "
                        "repository_id",
                        code="update_in_other_repository",
                        field="repository_id",
                        extra={"repositories": elsewhere},
                    )
            raise Conflict(f"Already at version {chosen}", code="up_to_date")
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=workflow.UPDATE,
            host=common_host(pending),
            input={
                "module_name": module_name,
                "instance_ids": [t.id for t in pending],
                "repository": resolved.source.as_dict(),
                "archive": resolved.version.model_dump(mode="json"),
                "current_versions": {t.id: t.version for t in pending},
                "stopped": [t.id for t in pending if t.status == STOPPED],
                "answers": dict(answers or {}),
            },
            idempotency_key=idempotency_key,
            target_type="module",
            target_id=module_name,
        )
        await audit.record(
            session,
            actor,
            "module.update",
            target_type="module",
            target_id=module_name,
            detail={
                "version": chosen,
                "repository_id": resolved.source.id,
                "instances": [t.id for t in pending],
                "operation_id": str(operation.id),
            },
        )
        return operation

    async def start_remove(
        self,
        session: AsyncSession,
        actor: Actor,
        instance: ModuleInstance,
        *,
        new_primary: str | None = None,
    ) -> Operation:
        """Remove an instance. Removing the primary one of a module with several others asks
        which becomes primary, unless `new_primary` names it now."""
        busy = await self._busy(session, instance.module_name)
        if busy is not None and busy.kind != workflow.INSTALL:
            raise Conflict(
                f"Module {instance.module_name} has an operation in progress ({busy.id})",
                code="operation_in_progress",
            )
        answers: dict[str, str] = {}
        if new_primary is not None:
            check_instance_id(new_primary, field="new_primary")
            successor = await ModuleInstanceRepository(session).get(new_primary)
            if (
                successor is None
                or successor.module_name != instance.module_name
                or successor.id == instance.id
            ):
                raise ValidationFailed(
                    f"new_primary names another instance of {instance.module_name}",
                    field="new_primary",
                )
            answers[workflow.NEW_PRIMARY] = new_primary
        successors: list[dict[str, str]] = []
        if instance.is_primary:
            others = [
                i
                for i in await ModuleInstanceRepository(session).list(
                    module_name=instance.module_name
                )
                if i.id != instance.id
            ]
            if len(others) > 1:  # with one, that one becomes primary: nothing to ask
                successors = [
                    {
                        "id": i.id,
                        "label": f"{i.id[:12]} ({i.version}, {i.status}, "
                        f"installed {i.created_at:%Y-%m-%d})",
                    }
                    for i in others
                ]
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=workflow.REMOVE,
            host=workflow.instance_host(instance),
            input={
                "module_name": instance.module_name,
                "instance_id": instance.id,
                "runtime": instance.runtime,
                "unit": instance.unit_name,
                "successors": successors,
                "answers": answers,
            },
            target_type="module",
            target_id=instance.module_name,
        )
        await audit.record(
            session,
            actor,
            "module.instance.delete",
            target_type="module_instance",
            target_id=instance.id,
            detail={"module_name": instance.module_name, "operation_id": str(operation.id)},
        )
        return operation

    async def start_lifecycle(
        self, session: AsyncSession, actor: Actor, instance: ModuleInstance, action: str
    ) -> Operation:
        """Stop, start or restart an instance (`action`); its status follows."""
        kind = workflow.LIFECYCLE.get(action)
        if kind is None:
            raise ValidationFailed(
                f"The action is one of {', '.join(workflow.LIFECYCLE)}", field="action"
            )
        busy = await self._busy(session, instance.module_name)
        if busy is not None:
            raise Conflict(
                f"Module {instance.module_name} has an operation in progress ({busy.id})",
                code="operation_in_progress",
            )
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=kind,
            input={"module_name": instance.module_name, "instance_id": instance.id},
            host=workflow.instance_host(instance),
            target_type="module",
            target_id=instance.module_name,
        )
        await audit.record(
            session,
            actor,
            f"module.instance.{action}",
            target_type="module_instance",
            target_id=instance.id,
            detail={"module_name": instance.module_name, "operation_id": str(operation.id)},
        )
        return operation

    async def start_uninstall(
        self, session: AsyncSession, actor: Actor, module_name: str
    ) -> Operation:
        check_module_name(module_name, field="module_id")
        instances = await ModuleInstanceRepository(session).list(module_name=module_name)
        if not instances:
            raise ModuleNotFound(f"Module {module_name} is not installed")
        busy = await self._busy(session, module_name)
        if busy is not None:
            raise Conflict(
                f"Module {module_name} has an operation in progress ({busy.id})",
                code="operation_in_progress",
            )
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=workflow.UNINSTALL,
            host=common_host(instances),
            input={
                "module_name": module_name,
                "instances": [
                    {"id": i.id, "runtime": i.runtime, "unit": i.unit_name} for i in instances
                ],
            },
            target_type="module",
            target_id=module_name,
        )
        await audit.record(
            session,
            actor,
            "module.uninstall",
            target_type="module",
            target_id=module_name,
            detail={"instances": [i.id for i in instances], "operation_id": str(operation.id)},
        )
        return operation

    async def operation(
        self, session: AsyncSession, operation_id: str, *, owner_user_id: int | None
    ) -> Operation:
        """A module operation the caller may see: any for admins (`owner_user_id` None), else
        only their own; others are 404, as on `/api/operations/{id}`."""
        try:
            parsed: uuid.UUID | None = uuid.UUID(operation_id)
        except ValueError:
            parsed = None  # names no operation, like an id that exists nowhere
        operation = (
            await ModuleOperationRepository(session).get(
                parsed, workflow.KINDS, owner_user_id=owner_user_id
            )
            if parsed
            else None
        )
        if operation is None:
            raise NotFound(
                f"No module operation with id {operation_id}", code="operation_not_found"
            )
        return operation

    def response(
        self,
        operation: Operation,
        *,
        status_prefix: str,
        prompts: Sequence[OperationPrompt] = (),
    ) -> OperationResponse:
        return OperationResponse(
            operation_id=str(operation.id),
            status=operation.status,
            progress=operation.progress,
            message=operation.message,
            module_name=str(operation.input.get("module_name", "")),
            status_url=f"{status_prefix}/{operation.id}",
            prompts=[PromptRead.model_validate(p) for p in prompts],
        )

    async def respond(
        self, session: AsyncSession, operation: Operation, *, status_prefix: str
    ) -> OperationResponse:
        """The documented response, with the questions the operation waits on."""
        prompts = await operation_service.open_prompts(session, [operation])
        return self.response(
            operation, status_prefix=status_prefix, prompts=prompts.get(operation.id, ())
        )

    async def answer(
        self,
        session: AsyncSession,
        actor: Actor,
        operation: Operation,
        *,
        answer: str,
        prompt_id: str | None,
    ) -> Operation:
        await operation_service.answer(
            session, actor, operation, answer=answer, prompt_id=prompt_id
        )
        await session.refresh(operation)
        return operation


async def reconcile_files(database: Database, settings: Settings) -> int:
    """Periodic job: clean what interrupted module operations left on disk."""
    ModuleFiles.for_settings(settings).ensure()
    return await workflow.reconcile(database, settings)


module_repository = ModuleRepositoryService()
catalog = CatalogService()
module_instance = ModuleInstanceService()
