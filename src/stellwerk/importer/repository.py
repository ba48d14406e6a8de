"""Queries of the import frame: import records and the installation's first admin."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import ImportRecord, RedirectDomain, User


class ImportRecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, source: str, entity: str, source_key: str) -> ImportRecord | None:
        return await self.session.scalar(
            select(ImportRecord).where(
                ImportRecord.source == source,
                ImportRecord.entity == entity,
                ImportRecord.source_key == source_key,
            )
        )

    async def targets(self, source: str, entity: str) -> dict[str, str]:
        """Source key → Stellwerk id of every `entity` imported from `source`."""
        rows = await self.session.execute(
            select(ImportRecord.source_key, ImportRecord.target_id).where(
                ImportRecord.source == source, ImportRecord.entity == entity
            )
        )
        return {str(key): str(target) for key, target in rows.all()}

    async def put(
        self, source: str, entity: str, source_key: str, target_id: str, digest: str | None
    ) -> None:
        record = await self.get(source, entity, source_key)
        if record is None:
            self.session.add(
                ImportRecord(
                    source=source,
                    entity=entity,
                    source_key=source_key,
                    target_id=target_id,
                    digest=digest,
                )
            )
        else:
            record.target_id = target_id
            record.digest = digest
        await self.session.flush()


class UserLookupRepository:
    """Users and redirect domains as imports look them up."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_admin(self) -> User | None:
        return await self.session.scalar(
            select(User).where(User.role == "admin", User.is_active.is_(True)).order_by(User.id)
        )

    async def by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(User.username == username))

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def domain_names(self, ids: list[int]) -> dict[int, str]:
        """Redirect domain id → name, for the ids that exist."""
        names: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            rows = await self.session.execute(
                select(RedirectDomain.id, RedirectDomain.domain).where(
                    RedirectDomain.id.in_(ids[start : start + 500])
                )
            )
            names.update({int(i): str(d) for i, d in rows.all()})
        return names
