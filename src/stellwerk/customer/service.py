"""Customers: create, search, change and delete (with their licenses only when asked)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.customer.repository import CustomerRepository
from stellwerk.exceptions import Conflict, NotFound
from stellwerk.kit.pagination import PageParams
from stellwerk.license.service import license_service
from stellwerk.models import Customer


class CustomerService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        name: str,
        email: str | None = None,
        notes: str | None = None,
    ) -> Customer:
        customer = await CustomerRepository(session).add(
            Customer(name=name, email=email, notes=notes)
        )
        await audit.record(
            session,
            actor,
            "customer.create",
            target_type="customer",
            target_id=customer.id,
            detail={"name": name, "email": email},
        )
        return customer

    async def get(self, session: AsyncSession, customer_id: int) -> Customer:
        customer = await CustomerRepository(session).get(customer_id)
        if customer is None:
            raise NotFound(f"No customer with id {customer_id}", code="customer_not_found")
        return customer

    async def search(
        self, session: AsyncSession, *, query: str | None, params: PageParams
    ) -> tuple[Sequence[Customer], int]:
        return await CustomerRepository(session).search(
            query=query.strip() if query else None, offset=params.offset, limit=params.per_page
        )

    async def license_counts(
        self, session: AsyncSession, customers: Sequence[Customer]
    ) -> dict[int, int]:
        return await CustomerRepository(session).license_counts([c.id for c in customers])

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        customer: Customer,
        *,
        changes: dict[str, object],
    ) -> Customer:
        applied: dict[str, object] = {}
        for field in ("name", "email", "notes"):
            if field in changes and getattr(customer, field) != changes[field]:
                if field == "name" and not changes[field]:
                    continue
                setattr(customer, field, changes[field])
                applied[field] = changes[field]
        await session.flush()
        if applied:
            await audit.record(
                session,
                actor,
                "customer.update",
                target_type="customer",
                target_id=customer.id,
                detail=applied,
            )
        return customer

    async def delete(
        self, session: AsyncSession, actor: Actor, customer: Customer, *, cascade: bool = False
    ) -> int:
        """Delete a customer; returns how many of their licenses went with them."""
        repository = CustomerRepository(session)
        licenses = (await repository.license_counts([customer.id])).get(customer.id, 0)
        if licenses and not cascade:
            raise Conflict(
                f"The customer holds {licenses} license(s); pass cascade=true to delete them too",
                code="customer_has_licenses",
            )
        if licenses:
            # Through the license service, so devices, sessions and resources are handled too.
            await license_service.delete_for_customer(session, actor, customer.id)
        await repository.delete(customer)
        await audit.record(
            session,
            actor,
            "customer.delete",
            target_type="customer",
            target_id=customer.id,
            detail={"name": customer.name, "licenses_deleted": licenses},
        )
        return licenses


customer = CustomerService()
