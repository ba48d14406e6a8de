"""All SQL for service providers, VPS plans and VPS instances."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import contains, counts_by, paginate
from stellwerk.models import ServiceProvider, User, VpsInstance, VpsPlan

# Instances that are gone: kept for the record, left out of lists and reconciliation.
GONE = ("deleted",)


def _cents(value: object) -> Decimal:
    """A sum as money: SQLite sums NUMERIC columns as floats, PostgreSQL as decimals."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


class ProviderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, provider_id: uuid.UUID) -> ServiceProvider | None:
        return await self.session.get(ServiceProvider, provider_id)

    async def list(
        self, *, type: str | None = None, active: bool | None = None
    ) -> Sequence[ServiceProvider]:
        statement = select(ServiceProvider).order_by(ServiceProvider.created_at, ServiceProvider.id)
        if type is not None:
            statement = statement.where(ServiceProvider.type == type)
        if active is not None:
            statement = statement.where(ServiceProvider.active.is_(active))
        return (await self.session.scalars(statement)).all()

    async def add(self, provider: ServiceProvider) -> ServiceProvider:
        self.session.add(provider)
        await self.session.flush()
        return provider

    async def delete(self, provider: ServiceProvider) -> None:
        await self.session.delete(provider)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, plan_id: uuid.UUID) -> VpsPlan | None:
        return await self.session.get(VpsPlan, plan_id)

    async def find(self, provider_id: uuid.UUID, provider_plan_id: str) -> VpsPlan | None:
        return await self.session.scalar(
            select(VpsPlan).where(
                VpsPlan.provider_id == provider_id, VpsPlan.provider_plan_id == provider_plan_id
            )
        )

    async def list(
        self, *, provider_id: uuid.UUID | None = None, active: bool | None = None
    ) -> Sequence[VpsPlan]:
        statement = select(VpsPlan).order_by(VpsPlan.created_at, VpsPlan.id)
        if provider_id is not None:
            statement = statement.where(VpsPlan.provider_id == provider_id)
        if active is not None:
            statement = statement.where(VpsPlan.active.is_(active))
        return (await self.session.scalars(statement)).all()

    async def add(self, plan: VpsPlan) -> VpsPlan:
        self.session.add(plan)
        await self.session.flush()
        return plan

    async def flush(self) -> None:
        await self.session.flush()


class InstanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def readable(principal: Principal) -> Select[VpsInstance]:
        """The servers `principal` may see and manage: a customer's own, all for the company."""
        statement = select(VpsInstance)
        if principal.owner_filter is not None:
            statement = statement.where(VpsInstance.user_id == principal.owner_filter)
        return statement

    async def get(self, instance_id: uuid.UUID) -> VpsInstance | None:
        return await self.session.get(VpsInstance, instance_id)

    async def get_readable(
        self, principal: Principal, instance_id: uuid.UUID
    ) -> VpsInstance | None:
        return await self.session.scalar(
            self.readable(principal).where(VpsInstance.id == instance_id)
        )

    async def lock_owner(self, user_id: int) -> None:
        """Serialize orders of one owner until the transaction ends: a no-op write to the
        owner's row takes its row lock (PostgreSQL) or the database's write lock (SQLite)."""
        await self.session.execute(
            update(User).where(User.id == user_id).values(server_quota=User.server_quota)
        )

    async def count_held(self, user_id: int) -> int:
        """Servers an owner holds now (deleted and failed ones do not count)."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(VpsInstance)
                .where(
                    VpsInstance.user_id == user_id,
                    VpsInstance.status.not_in((*GONE, "failed")),
                )
            )
            or 0
        )

    async def get_for_update(self, instance_id: uuid.UUID) -> VpsInstance | None:
        return await self.session.scalar(
            select(VpsInstance).where(VpsInstance.id == instance_id).with_for_update()
        )

    async def get_by_key(self, user_id: int, idempotency_key: str) -> VpsInstance | None:
        return await self.session.scalar(
            select(VpsInstance).where(
                VpsInstance.user_id == user_id, VpsInstance.idempotency_key == idempotency_key
            )
        )

    async def list(
        self,
        principal: Principal,
        *,
        offset: int,
        limit: int,
        provider_type: str | None = None,
    ) -> tuple[Sequence[VpsInstance], int]:
        condition: list[ColumnElement[bool]] = [VpsInstance.status.not_in(GONE)]
        if provider_type is not None:
            condition.append(VpsInstance.provider_type == provider_type)
        statement = (
            self.readable(principal)
            .where(*condition)
            .order_by(VpsInstance.created_at.desc(), VpsInstance.id)
        )
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def search(
        self, principal: Principal, query: str, *, limit: int
    ) -> tuple[Sequence[VpsInstance], int]:
        """The servers `principal` may see whose label or address contains `query`."""
        pattern = contains(query)
        statement = (
            self.readable(principal)
            .where(
                VpsInstance.status.not_in(GONE),
                or_(
                    VpsInstance.label.ilike(pattern, escape="\\"),
                    VpsInstance.ip_address.ilike(pattern, escape="\\"),
                    VpsInstance.ipv6_address.ilike(pattern, escape="\\"),
                ),
            )
            .order_by(VpsInstance.label, VpsInstance.id)
        )
        return await paginate(self.session, statement, offset=0, limit=limit)

    async def counts_by_status(self, principal: Principal) -> dict[str, int]:
        """How many servers `principal` may see are in each state (deleted ones left out)."""
        statement = self.readable(principal).where(VpsInstance.status.not_in(GONE))
        return await counts_by(self.session, statement, VpsInstance.status)

    async def monthly_by_provider(self) -> Sequence[tuple[str, Decimal, Decimal]]:
        """Per provider, for every server that exists: what the company pays the provider a
        month (the plan's base price; a server without a plan its provider price) and what
        customers pay for plan servers (their monthly rate). Most expensive first."""
        cost = func.sum(func.coalesce(VpsPlan.base_price, VpsInstance.monthly_rate, 0))
        revenue = func.sum(
            case(
                (VpsInstance.plan_id.is_not(None), func.coalesce(VpsInstance.monthly_rate, 0)),
                else_=0,
            )
        )
        name = func.coalesce(ServiceProvider.name, VpsInstance.provider_type, "unknown")
        rows = await self.session.execute(
            select(name, cost, revenue)
            .select_from(VpsInstance)
            .outerjoin(VpsPlan, VpsPlan.id == VpsInstance.plan_id)
            .outerjoin(ServiceProvider, ServiceProvider.id == VpsInstance.provider_id)
            .where(VpsInstance.status.not_in((*GONE, "failed")))
            .group_by(name)
            .order_by(cost.desc(), name)
        )
        return [
            (str(label), _cents(spent), _cents(earned)) for label, spent, earned in rows.tuples()
        ]

    async def live_for_provider(self, provider_id: uuid.UUID) -> Sequence[VpsInstance]:
        """Instances that exist (or are being created) at the provider."""
        rows = await self.session.scalars(
            select(VpsInstance).where(
                VpsInstance.provider_id == provider_id,
                VpsInstance.status.not_in((*GONE, "failed")),
            )
        )
        return rows.all()

    async def known_server_ids(self, provider_id: uuid.UUID) -> set[str]:
        rows = await self.session.scalars(
            select(VpsInstance.provider_instance_id).where(
                VpsInstance.provider_id == provider_id,
                VpsInstance.provider_instance_id.is_not(None),
            )
        )
        return {str(r) for r in rows.all()}

    async def add(self, instance: VpsInstance) -> VpsInstance:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def flush(self) -> None:
        await self.session.flush()


class OwnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_username(self, username: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.username) == username.lower())
        )

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.email) == email.lower()).order_by(User.id).limit(1)
        )

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def first_admin(self) -> User | None:
        return await self.session.scalar(
            select(User).where(User.role == "admin").order_by(User.id).limit(1)
        )
