"""HTTP for registrar domains and contacts: `/api/registrar/...`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from stellwerk.database import SessionDep
from stellwerk.exceptions import ValidationFailed
from stellwerk.identity.auth import RuntimeDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.provider.registrar.base import ContactInput
from stellwerk.registrar.auth import ContactReader, ContactWriter, DnsReader, DomainBuyer
from stellwerk.registrar.schemas import (
    ContactCreate,
    ContactRead,
    ContactUpdate,
    DomainCheckRead,
    DomainCheckRequest,
    DomainCheckResult,
    DomainRead,
    DomainRegisterRequest,
    DomainTransferRequest,
)
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["registrar"], responses=error_responses(Surface.GENERIC))


async def _check(runtime: RuntimeDep, domains: list[str]) -> DomainCheckResult:
    results = await registrar_service.check(runtime.settings, domains=domains)
    return DomainCheckResult(
        domains=[
            DomainCheckRead(
                domain=r.domain,
                available=r.available,
                price=None if r.price is None else r.price.quantize(r.price.__class__("0.01")),
                currency=r.currency,
                premium=r.premium,
                status=r.status,
            )
            for r in results
        ]
    )


@router.get("/api/registrar/domains/check", response_model=DomainCheckResult)
async def check_domains_get(
    _: DnsReader,
    runtime: RuntimeDep,
    domain: Annotated[list[str], Query(min_length=1, max_length=50)],
) -> DomainCheckResult:
    """Availability, price, currency and premium flag (`?domain=a.de&domain=b.com`)."""
    return await _check(runtime, domain)


@router.post("/api/registrar/domains/check", response_model=DomainCheckResult)
async def check_domains(
    body: DomainCheckRequest, _: DnsReader, runtime: RuntimeDep
) -> DomainCheckResult:
    """Availability, price, currency and premium flag for up to 50 domains."""
    return await _check(runtime, body.domains)


@router.get("/api/registrar/domains", response_model=Page[DomainRead])
async def list_domains(
    subject: DnsReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(pattern="^(active|pending|failed)$")] = None,
) -> Page[DomainRead]:
    """The account's domains: a customer's own, everyone's for the company."""
    rows, total = await registrar_service.list(
        session, subject.principal, params=params, status=status
    )
    return Page.of([DomainRead.model_validate(r) for r in rows], total=total, params=params)


@router.post(
    "/api/registrar/domains", response_model=DomainRead, status_code=status.HTTP_201_CREATED
)
async def register_domain(
    body: DomainRegisterRequest, subject: DomainBuyer, session: SessionDep, runtime: RuntimeDep
) -> DomainRead:
    """Buy a domain with the default contact (or `contact_id`) in every role. Its DNS zone is
    created at `dns_provider` first, so records can be written right after.

    Admins only (it charges the registrar account): an admin's login or an admin's token with
    `write:dns`; anyone else gets 403 `missing_scope` with `required: admin`."""
    row = await registrar_service.register(
        session,
        runtime.settings,
        subject.actor,
        domain=body.domain,
        contact_id=body.contact_id,
        nameservers=body.nameservers,
        period_years=body.period_years,
        dns_provider=body.dns_provider,
    )
    return DomainRead.model_validate(row)


@router.post(
    "/api/registrar/domains/transfer",
    response_model=DomainRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def transfer_domain(
    body: DomainTransferRequest, subject: DomainBuyer, session: SessionDep, runtime: RuntimeDep
) -> DomainRead:
    """Start a transfer with the auth code; the domain is `pending` until the registrar completes
    it (the auth code is never stored).

    Admins only, like registering: anyone else gets 403 `missing_scope` with `required: admin`."""
    row = await registrar_service.transfer(
        session,
        runtime.settings,
        subject.actor,
        domain=body.domain,
        auth_code=body.auth_code,
        contact_id=body.contact_id,
        nameservers=body.nameservers,
        dns_provider=body.dns_provider,
    )
    return DomainRead.model_validate(row)


@router.get("/api/registrar/domains/{name}", response_model=DomainRead)
async def show_domain(
    name: str, subject: DnsReader, session: SessionDep, runtime: RuntimeDep
) -> DomainRead:
    """One domain; a pending transfer is looked up at the registrar first."""
    domain = await registrar_service.get(session, runtime.settings, subject.principal, name)
    return DomainRead.model_validate(domain)


@router.get("/api/registrar/contacts", response_model=list[ContactRead])
async def list_contacts(_: ContactReader, session: SessionDep) -> list[ContactRead]:
    return [ContactRead.model_validate(c) for c in await registrar_service.contacts(session)]


@router.post(
    "/api/registrar/contacts", response_model=ContactRead, status_code=status.HTTP_201_CREATED
)
async def create_contact(
    body: ContactCreate, subject: ContactWriter, session: SessionDep, runtime: RuntimeDep
) -> ContactRead:
    """Create a contact at the registrar (`contact.create`), or adopt an existing handle with
    `provider_contact_id`; `default: true` (the default) makes it the one new domains use."""
    contact: ContactInput | None = None
    if body.provider_contact_id is None:
        required = {
            "name": body.name,
            "street": body.street,
            "city": body.city,
            "postal_code": body.postal_code,
            "country_code": body.country_code,
            "phone": body.phone,
            "email": body.email,
        }
        missing = [key for key, value in required.items() if not value]
        if missing:
            raise ValidationFailed(f"{missing[0]} is required", field=missing[0])
        contact = ContactInput(
            type=body.type,
            name=str(body.name),
            organization=body.organization,
            street=str(body.street),
            city=str(body.city),
            postal_code=str(body.postal_code),
            country_code=str(body.country_code).upper(),
            phone=str(body.phone),
            email=str(body.email),
        )
    row = await registrar_service.create_contact(
        session,
        runtime.settings,
        subject.actor,
        provider_contact_id=body.provider_contact_id,
        contact=contact,
        default=body.default,
    )
    return ContactRead.model_validate(row)


@router.get("/api/registrar/contacts/{contact_id}", response_model=ContactRead)
async def show_contact(contact_id: int, _: ContactReader, session: SessionDep) -> ContactRead:
    return ContactRead.model_validate(await registrar_service.get_contact(session, contact_id))


@router.put("/api/registrar/contacts/{contact_id}", response_model=ContactRead)
async def update_contact(
    contact_id: int, body: ContactUpdate, subject: ContactWriter, session: SessionDep
) -> ContactRead:
    """Make a contact the default (`{"default": true}`) or rename it."""
    contact = await registrar_service.get_contact(session, contact_id)
    row = await registrar_service.update_contact(
        session, subject.actor, contact, default=body.default, name=body.name
    )
    return ContactRead.model_validate(row)
