"""All SQL for registrar domains and contacts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import contains, paginate
from stellwerk.models import RegistrarContact, RegistrarDomain


class RegistrarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def readable_domains(principal: Principal) -> Select[RegistrarDomain]:
        """The registrar domains `principal` may see: a customer's own, all for the company.
        (Contacts are for admins alone: their routes say so.)"""
        statement = select(RegistrarDomain)
        if principal.owner_filter is not None:
            statement = statement.where(RegistrarDomain.owner_user_id == principal.owner_filter)
        return statement

    async def add(self, item: RegistrarDomain | RegistrarContact) -> None:
        self.session.add(item)
        await self.session.flush()

    async def domain(self, name: str) -> RegistrarDomain | None:
        result = await self.session.execute(
            select(RegistrarDomain).where(RegistrarDomain.name == name)
        )
        return result.scalar_one_or_none()

    async def readable_domain(self, principal: Principal, name: str) -> RegistrarDomain | None:
        return await self.session.scalar(
            self.readable_domains(principal).where(RegistrarDomain.name == name)
        )

    async def domains(
        self, principal: Principal, *, offset: int, limit: int, status: str | None = None
    ) -> tuple[Sequence[RegistrarDomain], int]:
        statement = self.readable_domains(principal)
        if status:
            statement = statement.where(RegistrarDomain.status == status)
        statement = statement.order_by(RegistrarDomain.name)
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def search_domains(
        self, principal: Principal, query: str, *, limit: int
    ) -> tuple[Sequence[RegistrarDomain], int]:
        """The registrar domains `principal` may see whose name contains `query`."""
        statement = (
            self.readable_domains(principal)
            .where(RegistrarDomain.name.ilike(contains(query), escape="\\"))
            .order_by(RegistrarDomain.name)
        )
        return await paginate(self.session, statement, offset=0, limit=limit)

    async def pending_domains(self, limit: int = 100) -> Sequence[RegistrarDomain]:
        rows = await self.session.execute(
            select(RegistrarDomain).where(RegistrarDomain.status == "pending").limit(limit)
        )
        return rows.scalars().all()

    async def contact(self, contact_id: int) -> RegistrarContact | None:
        return await self.session.get(RegistrarContact, contact_id)

    async def contact_by_handle(self, provider: str, handle: str) -> RegistrarContact | None:
        result = await self.session.execute(
            select(RegistrarContact).where(
                RegistrarContact.provider == provider,
                RegistrarContact.provider_contact_id == handle,
            )
        )
        return result.scalar_one_or_none()

    async def default_contact(self, provider: str) -> RegistrarContact | None:
        result = await self.session.execute(
            select(RegistrarContact)
            .where(RegistrarContact.provider == provider, RegistrarContact.is_default.is_(True))
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def contacts(self, provider: str | None = None) -> Sequence[RegistrarContact]:
        query = select(RegistrarContact).order_by(RegistrarContact.id)
        if provider:
            query = query.where(RegistrarContact.provider == provider)
        return (await self.session.execute(query)).scalars().all()

    async def clear_default(self, provider: str) -> None:
        await self.session.execute(
            update(RegistrarContact)
            .where(RegistrarContact.provider == provider)
            .values(is_default=False)
        )
