"""All SQL for DNS zones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.models import DnsZone


class DnsZoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def readable(principal: Principal) -> Select[DnsZone]:
        """The zones `principal` may see and edit: a customer their own zones (their projects',
        their domains'), staff the company's zones (no customer owns them), admins every one."""
        statement = select(DnsZone)
        if principal.is_admin:
            return statement
        if principal.is_company:
            return statement.where(DnsZone.owner_user_id.is_(None))
        return statement.where(DnsZone.owner_user_id == principal.user_id)

    async def get_readable(self, principal: Principal, name: str) -> DnsZone | None:
        return await self.session.scalar(self.readable(principal).where(DnsZone.name == name))

    async def list_readable(self, principal: Principal) -> Sequence[DnsZone]:
        return (await self.session.scalars(self.readable(principal).order_by(DnsZone.name))).all()

    async def get(self, name: str) -> DnsZone | None:
        result = await self.session.execute(select(DnsZone).where(DnsZone.name == name))
        return result.scalar_one_or_none()

    async def add(self, zone: DnsZone) -> DnsZone:
        self.session.add(zone)
        await self.session.flush()
        return zone

    async def delete(self, zone: DnsZone) -> None:
        await self.session.delete(zone)
        await self.session.flush()
