"""All SQL the reconciliation report reads: every record it compares with a provider."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import (
    ModuleInstance,
    Project,
    RegistrarDomain,
    ServiceProvider,
    VpsInstance,
)


class ReconcileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def compute_providers(self, types: Sequence[str]) -> Sequence[ServiceProvider]:
        rows = await self.session.scalars(
            select(ServiceProvider)
            .where(ServiceProvider.type.in_(types), ServiceProvider.active.is_(True))
            .order_by(ServiceProvider.name)
        )
        return rows.all()

    async def instances(self, provider: ServiceProvider) -> Sequence[VpsInstance]:
        rows = await self.session.scalars(
            select(VpsInstance)
            .where(VpsInstance.provider_id == provider.id)
            .order_by(VpsInstance.created_at)
        )
        return rows.all()

    async def registrar_domains(self, provider: str) -> Sequence[RegistrarDomain]:
        rows = await self.session.scalars(
            select(RegistrarDomain)
            .where(RegistrarDomain.provider == provider)
            .order_by(RegistrarDomain.name)
        )
        return rows.all()

    async def projects(self) -> Sequence[Project]:
        return (await self.session.scalars(select(Project).order_by(Project.id))).all()

    async def module_instances(self) -> Sequence[ModuleInstance]:
        rows = await self.session.scalars(select(ModuleInstance).order_by(ModuleInstance.id))
        return rows.all()
