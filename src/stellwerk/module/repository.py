"""All SQL for module repositories (configuration) and module instances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import ModuleInstance, ModuleRepository, Operation


class ModuleRepositoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, repository_id: str) -> ModuleRepository | None:
        return await self.session.get(ModuleRepository, repository_id)

    async def list(
        self, *, offset: int = 0, limit: int = 1000, enabled_only: bool = False
    ) -> tuple[Sequence[ModuleRepository], int]:
        conditions = [ModuleRepository.enabled.is_(True)] if enabled_only else []
        total = await self.session.scalar(
            select(func.count()).select_from(ModuleRepository).where(*conditions)
        )
        rows = await self.session.scalars(
            select(ModuleRepository)
            .where(*conditions)
            .order_by(ModuleRepository.priority, ModuleRepository.id)
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def add(self, repository: ModuleRepository) -> ModuleRepository:
        self.session.add(repository)
        await self.session.flush()
        return repository

    async def delete(self, repository: ModuleRepository) -> None:
        await self.session.delete(repository)
        await self.session.flush()

    async def record_fetch(self, repository_id: str, **values: Any) -> None:
        await self.session.execute(
            update(ModuleRepository).where(ModuleRepository.id == repository_id).values(**values)
        )


class ModuleInstanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, instance_id: str) -> ModuleInstance | None:
        return await self.session.get(ModuleInstance, instance_id)

    async def get_for_update(self, instance_id: str) -> ModuleInstance | None:
        return await self.session.scalar(
            select(ModuleInstance).where(ModuleInstance.id == instance_id).with_for_update()
        )

    async def list(self, *, module_name: str | None = None) -> Sequence[ModuleInstance]:
        statement = select(ModuleInstance).order_by(
            ModuleInstance.module_name, ModuleInstance.created_at, ModuleInstance.id
        )
        if module_name is not None:
            statement = statement.where(ModuleInstance.module_name == module_name)
        return (await self.session.scalars(statement)).all()

    async def count(self, module_name: str) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(ModuleInstance)
            .where(ModuleInstance.module_name == module_name)
        )
        return int(total or 0)

    async def primary(self, module_name: str) -> ModuleInstance | None:
        return await self.session.scalar(
            select(ModuleInstance).where(
                ModuleInstance.module_name == module_name, ModuleInstance.is_primary.is_(True)
            )
        )

    async def oldest_other(self, module_name: str, instance_id: str) -> ModuleInstance | None:
        return await self.session.scalar(
            select(ModuleInstance)
            .where(ModuleInstance.module_name == module_name, ModuleInstance.id != instance_id)
            .order_by(ModuleInstance.created_at, ModuleInstance.id)
            .limit(1)
        )

    async def add(self, instance: ModuleInstance) -> ModuleInstance:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def set_values(self, instance_id: str, **values: Any) -> None:
        await self.session.execute(
            update(ModuleInstance).where(ModuleInstance.id == instance_id).values(**values)
        )

    async def clear_primary(self, module_name: str) -> None:
        await self.session.execute(
            update(ModuleInstance)
            .where(ModuleInstance.module_name == module_name, ModuleInstance.is_primary.is_(True))
            .values(is_primary=False)
        )
        await self.session.flush()

    async def delete(self, instance_id: str) -> None:
        await self.session.execute(delete(ModuleInstance).where(ModuleInstance.id == instance_id))

    async def installed_counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(ModuleInstance.module_name, func.count()).group_by(ModuleInstance.module_name)
        )
        return {name: int(count) for name, count in rows.all()}

    async def installed_versions(self) -> dict[str, set[str]]:
        rows = await self.session.execute(
            select(ModuleInstance.module_name, ModuleInstance.version).distinct()
        )
        found: dict[str, set[str]] = {}
        for name, version in rows.all():
            found.setdefault(name, set()).add(version)
        return found


class ModuleOperationRepository:
    """Module operations that are still queued or running."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self, kinds: Sequence[str]) -> Sequence[Operation]:
        rows = await self.session.scalars(
            select(Operation).where(
                Operation.kind.in_(kinds), Operation.status.in_(("queued", "running"))
            )
        )
        return rows.all()

    async def updated_since(
        self, kinds: Sequence[str], since: Any, operation_id: Any = None
    ) -> Sequence[Operation]:
        statement = select(Operation).where(Operation.kind.in_(kinds))
        if operation_id is not None:
            statement = statement.where(Operation.id == operation_id)
        if since is not None:
            statement = statement.where(Operation.updated_at >= since)
        rows = await self.session.scalars(
            statement.order_by(Operation.updated_at, Operation.id).limit(200)
        )
        return rows.all()
