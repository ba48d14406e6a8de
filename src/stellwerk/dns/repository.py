"""All SQL for DNS zones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import DnsZone


class DnsZoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, name: str) -> DnsZone | None:
        result = await self.session.execute(select(DnsZone).where(DnsZone.name == name))
        return result.scalar_one_or_none()

    async def add(self, zone: DnsZone) -> DnsZone:
        self.session.add(zone)
        await self.session.flush()
        return zone

    async def list(self) -> Sequence[DnsZone]:
        return (await self.session.execute(select(DnsZone).order_by(DnsZone.name))).scalars().all()

    async def delete(self, zone: DnsZone) -> None:
        await self.session.delete(zone)
        await self.session.flush()
