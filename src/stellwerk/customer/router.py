"""HTTP for customers (admin panel)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, status

from stellwerk.customer.auth import CustomersReader, CustomersWriter
from stellwerk.customer.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerSearch,
    CustomerUpdate,
    Deleted,
    SelectOption,
    SelectPagination,
)
from stellwerk.customer.service import customer as customer_service
from stellwerk.database import SessionDep
from stellwerk.kit.pagination import MAX_PER_PAGE, PageParams
from stellwerk.models import Customer
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["customers"], responses=error_responses(Surface.LICENSE))


def _read(customer: Customer, license_count: int) -> CustomerRead:
    return CustomerRead.model_validate(
        {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "notes": customer.notes,
            "license_count": license_count,
            "created_at": customer.created_at,
            "updated_at": customer.updated_at,
        }
    )


@router.get("/api/customers", response_model=CustomerSearch)
async def search_customers(
    _: CustomersReader,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Name or email contains")] = None,
    search: Annotated[str | None, Query(max_length=200, description="Same as q")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> CustomerSearch:
    """Customers for a Select2 dropdown (`results`, `pagination.more`); the same answer also
    carries the plain list envelope (`items`, `total`, `page`, `per_page`, `pages`)."""
    params = PageParams(page=page, per_page=per_page)
    rows, total = await customer_service.search(session, query=q or search, params=params)
    counts = await customer_service.license_counts(session, rows)
    return CustomerSearch(
        results=[
            SelectOption(id=c.id, text=f"{c.name} - {c.email}" if c.email else c.name) for c in rows
        ],
        pagination=SelectPagination(more=params.offset + len(rows) < total),
        items=[_read(c, counts.get(c.id, 0)) for c in rows],
        total=total,
        page=page,
        per_page=per_page,
        pages=max(1, math.ceil(total / per_page)),
    )


@router.post("/api/customers", response_model=CustomerRead, status_code=status.HTTP_201_CREATED)
async def create_customer(
    body: CustomerCreate, subject: CustomersWriter, session: SessionDep
) -> CustomerRead:
    created = await customer_service.create(
        session, subject.actor, name=body.name, email=body.email, notes=body.notes
    )
    return _read(created, 0)


@router.get("/api/customers/{customer_id:int}", response_model=CustomerRead)
async def get_customer(customer_id: int, _: CustomersReader, session: SessionDep) -> CustomerRead:
    found = await customer_service.get(session, customer_id)
    counts = await customer_service.license_counts(session, [found])
    return _read(found, counts.get(found.id, 0))


@router.put("/api/customers/{customer_id:int}", response_model=CustomerRead)
async def update_customer(
    customer_id: int, body: CustomerUpdate, subject: CustomersWriter, session: SessionDep
) -> CustomerRead:
    found = await customer_service.get(session, customer_id)
    updated = await customer_service.update(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    counts = await customer_service.license_counts(session, [updated])
    return _read(updated, counts.get(updated.id, 0))


@router.delete("/api/customers/{customer_id:int}", response_model=Deleted)
async def delete_customer(
    customer_id: int,
    subject: CustomersWriter,
    session: SessionDep,
    cascade: Annotated[bool, Query(description="Delete the customer's licenses too")] = False,
) -> Deleted:
    """Delete a customer. With licenses, 409 unless `cascade=true`."""
    found = await customer_service.get(session, customer_id)
    deleted = await customer_service.delete(session, subject.actor, found, cascade=cascade)
    return Deleted(message=f"Customer deleted with {deleted} license(s)")
