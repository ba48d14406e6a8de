"""Update checks: for each installed module, the newest version every enabled repository offers.

A check reports newer versions wherever they are; an update installs from another repository
than the instances came from only when the request names it (see
`ModuleInstanceService.start_update`), so a repository can never take over a module silently.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.kit.time import utc_now
from stellwerk.models import ModuleInstance
from stellwerk.module.manifest import VersionOrder, check_module_name, is_newer, is_prerelease
from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.module.schemas import (
    AvailableUpdate,
    InstanceUpdate,
    ModuleUpdates,
    UpdatesCheckResponse,
)
from stellwerk.module.service import catalog
from stellwerk.module.workflow import crosses_major


class ModuleUpdateService:
    async def check(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        module_name: str | None = None,
        prereleases: bool = False,
        refresh: bool = False,
    ) -> UpdatesCheckResponse:
        """The newest versions for every installed module (or one); pre-releases only when
        asked for. `refresh` reads the repositories' indexes now, past the cache."""
        if module_name is not None:
            check_module_name(module_name)
        instances = await ModuleInstanceRepository(session).list(module_name=module_name)
        offers, errors = await catalog.offers(session, settings, refresh=refresh)
        groups: dict[str, list[ModuleInstance]] = {}
        for instance in instances:
            groups.setdefault(instance.module_name, []).append(instance)
        modules = []
        for name, group in groups.items():
            newest = {
                repository_id: module.newest(prereleases=prereleases).version
                for repository_id, module in offers.get(name, {}).items()
            }
            modules.append(self._module(name, group, newest))
        return UpdatesCheckResponse(
            modules=modules,
            total=len(modules),
            updates_available=sum(1 for m in modules if m.update_available),
            checked_at=utc_now(),
            errors=errors,
        )

    def _module(
        self, name: str, instances: list[ModuleInstance], newest: dict[str, str]
    ) -> ModuleUpdates:
        versions = sorted({i.version for i in instances}, key=VersionOrder)
        oldest = versions[0]
        sources = sorted({i.repository_id for i in instances if i.repository_id})
        available = [
            AvailableUpdate(
                repository_id=repository_id,
                version=version,
                is_source=repository_id in sources,
                crosses_major=crosses_major(oldest, version),
                prerelease=is_prerelease(version),
            )
            for repository_id, version in sorted(newest.items())
            if is_newer(version, oldest)
        ]
        latest: tuple[str, str] | None = None  # (repository, version); sources win a tie
        for repository_id, version in sorted(newest.items(), key=lambda i: i[0] not in sources):
            if latest is None or is_newer(version, latest[1]):
                latest = (repository_id, version)
        return ModuleUpdates(
            module_name=name,
            installed_versions=versions,
            repository_ids=sources,
            update_available=bool(available),
            latest_version=latest[1] if latest else None,
            latest_repository_id=latest[0] if latest else None,
            requires_repository=bool(available) and latest is not None and latest[0] not in sources,
            available_updates=available,
            instances=[
                InstanceUpdate(
                    instance_id=i.id,
                    version=i.version,
                    repository_id=i.repository_id,
                    latest_version=newest.get(i.repository_id or ""),
                    update_available=is_newer(newest[i.repository_id], i.version)
                    if i.repository_id in newest
                    else False,
                )
                for i in instances
            ],
        )


module_update = ModuleUpdateService()
