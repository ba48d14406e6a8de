"""All SQL for module repositories (configuration), pins, module instances, operations and used
feed tickets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.kit.time import utc_now
from stellwerk.models import (
    ModuleFeedTicket,
    ModuleInstance,
    ModulePin,
    ModuleRepository,
    Operation,
    OperationEvent,
)


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

    async def add(self, repository: ModuleRepository) -> bool:
        """Insert the repository; False (and nothing written) if its id exists, also when
        another transaction inserts the same id at the same moment."""
        try:
            async with self.session.begin_nested():
                self.session.add(repository)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def delete(self, repository: ModuleRepository) -> None:
        await self.session.delete(repository)
        await self.session.flush()

    async def record_fetch(self, repository_id: str, **values: Any) -> None:
        await self.session.execute(
            update(ModuleRepository).where(ModuleRepository.id == repository_id).values(**values)
        )


class ModulePinRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, repository_id: str, module_name: str, version: str) -> ModulePin | None:
        return await self.session.get(ModulePin, (repository_id, module_name, version))

    async def add_if_absent(self, pin: ModulePin) -> ModulePin:
        """Insert the pin unless one exists; returns the pin that holds (the earlier one)."""
        try:
            async with self.session.begin_nested():
                self.session.add(pin)
                await self.session.flush()
        except IntegrityError:
            existing = await self.get(pin.repository_id, pin.module_name, pin.version)
            if existing is None:  # deleted again in between: nothing to compare with
                raise
            return existing
        return pin

    async def list(
        self,
        *,
        repository_id: str | None = None,
        module_name: str | None = None,
        offset: int = 0,
        limit: int = 1000,
    ) -> tuple[Sequence[ModulePin], int]:
        conditions = []
        if repository_id is not None:
            conditions.append(ModulePin.repository_id == repository_id)
        if module_name is not None:
            conditions.append(ModulePin.module_name == module_name)
        total = await self.session.scalar(
            select(func.count()).select_from(ModulePin).where(*conditions)
        )
        rows = await self.session.scalars(
            select(ModulePin)
            .where(*conditions)
            .order_by(ModulePin.repository_id, ModulePin.module_name, ModulePin.version)
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def delete(self, pin: ModulePin) -> None:
        await self.session.delete(pin)
        await self.session.flush()


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

    async def sources(self) -> dict[str, set[str]]:
        rows = await self.session.execute(
            select(ModuleInstance.module_name, ModuleInstance.repository_id)
            .where(ModuleInstance.repository_id.is_not(None))
            .distinct()
        )
        found: dict[str, set[str]] = {}
        for name, repository_id in rows.all():
            if repository_id is not None:
                found.setdefault(name, set()).add(repository_id)
        return found

    async def installed_versions(self) -> dict[str, set[str]]:
        rows = await self.session.execute(
            select(ModuleInstance.module_name, ModuleInstance.version).distinct()
        )
        found: dict[str, set[str]] = {}
        for name, version in rows.all():
            found.setdefault(name, set()).add(version)
        return found


class ModuleFeedTicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def use(self, nonce_hash: str, expires_at: Any) -> bool:
        """Mark a ticket used; False when it was used before (by any process)."""
        await self.session.execute(
            delete(ModuleFeedTicket).where(ModuleFeedTicket.expires_at < utc_now())
        )
        try:
            async with self.session.begin_nested():
                self.session.add(ModuleFeedTicket(nonce_hash=nonce_hash, expires_at=expires_at))
                await self.session.flush()
        except IntegrityError:
            return False
        return True


class ModuleOperationRepository:
    """Module operations: those still queued or running, and the changes a feed shows.

    `owner_user_id` scopes what a caller sees: None for everything (admins), else only the
    operations that user started.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, operation_id: Any, kinds: Sequence[str], *, owner_user_id: int | None
    ) -> Operation | None:
        statement = select(Operation).where(Operation.id == operation_id, Operation.kind.in_(kinds))
        if owner_user_id is not None:
            statement = statement.where(Operation.owner_user_id == owner_user_id)
        return await self.session.scalar(statement)

    async def active(self, kinds: Sequence[str]) -> Sequence[Operation]:
        rows = await self.session.scalars(
            select(Operation).where(
                Operation.kind.in_(kinds), Operation.status.in_(("queued", "running", "waiting"))
            )
        )
        return rows.all()

    async def recent(
        self,
        kinds: Sequence[str],
        operation_id: Any = None,
        *,
        owner_user_id: int | None = None,
        limit: int = 200,
    ) -> Sequence[Operation]:
        """The most recently changed operations (oldest of them first)."""
        statement = select(Operation).where(Operation.kind.in_(kinds))
        if operation_id is not None:
            statement = statement.where(Operation.id == operation_id)
        if owner_user_id is not None:
            statement = statement.where(Operation.owner_user_id == owner_user_id)
        rows = await self.session.scalars(
            statement.order_by(Operation.updated_at.desc(), Operation.id).limit(limit)
        )
        return list(reversed(rows.all()))

    async def last_event_id(self) -> int:
        """The newest operation event's id (0 when there is none)."""
        return int(await self.session.scalar(select(func.max(OperationEvent.id))) or 0)

    async def events_after(
        self,
        kinds: Sequence[str],
        after_id: int,
        operation_id: Any = None,
        *,
        owner_user_id: int | None = None,
        limit: int = 500,
    ) -> Sequence[tuple[OperationEvent, Operation]]:
        """The events of these operations newer than `after_id`, oldest first, each with its
        operation."""
        statement = (
            select(OperationEvent, Operation)
            .join(Operation, Operation.id == OperationEvent.operation_id)
            .where(OperationEvent.id > after_id, Operation.kind.in_(kinds))
        )
        if operation_id is not None:
            statement = statement.where(Operation.id == operation_id)
        if owner_user_id is not None:
            statement = statement.where(Operation.owner_user_id == owner_user_id)
        rows = await self.session.execute(statement.order_by(OperationEvent.id).limit(limit))
        return [(event, operation) for event, operation in rows.tuples().all()]
