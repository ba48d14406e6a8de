"""All SQL for DNS zones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import escape_like
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

    async def overlapping(self, name: str) -> Sequence[DnsZone]:
        """The zones that are `name`, contain it or lie inside it. On a shared name server the
        most specific zone answers, so each of them decides who may serve `name`."""
        labels = name.split(".")
        ancestors = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        inside = DnsZone.name.like("%." + escape_like(name), escape="\\")
        statement = select(DnsZone).where(DnsZone.name.in_(ancestors) | inside)
        return (await self.session.scalars(statement)).all()

    async def others_overlapping(self, principal: Principal, name: str) -> Sequence[DnsZone]:
        """The zones overlapping `name` (see `overlapping`) that `principal` may not edit."""
        found = await self.overlapping(name)
        if not found:
            return []
        ids = [z.id for z in found]
        mine = set(
            await self.session.scalars(
                self.readable(principal).with_only_columns(DnsZone.id).where(DnsZone.id.in_(ids))
            )
        )
        return [z for z in found if z.id not in mine]

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
