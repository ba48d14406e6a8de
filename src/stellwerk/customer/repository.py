"""All SQL for customers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import Customer, License


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: int) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    async def add(self, customer: Customer) -> Customer:
        self.session.add(customer)
        await self.session.flush()
        return customer

    async def delete(self, customer: Customer) -> None:
        await self.session.delete(customer)
        await self.session.flush()

    async def search(
        self, *, query: str | None, offset: int, limit: int
    ) -> tuple[Sequence[Customer], int]:
        conditions = []
        if query:
            pattern = _like(query)
            conditions.append(
                or_(
                    Customer.name.ilike(pattern, escape="\\"),
                    Customer.email.ilike(pattern, escape="\\"),
                )
            )
        total = await self.session.scalar(
            select(func.count()).select_from(Customer).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Customer)
            .where(*conditions)
            .order_by(Customer.name, Customer.id)
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def license_counts(self, customer_ids: Sequence[int]) -> dict[int, int]:
        if not customer_ids:
            return {}
        rows = await self.session.execute(
            select(License.customer_id, func.count())
            .where(License.customer_id.in_(customer_ids))
            .group_by(License.customer_id)
        )
        return {customer_id: int(count) for customer_id, count in rows.tuples()}
