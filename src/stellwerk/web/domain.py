"""Pages for registrar domains (check, register, transfer) and DNS zones with their records.

The API lets every login holding `read:dns`/`write:dns` check, list and edit DNS (every user
does), so those pages are for every user too. Registering and transferring charge the company's
registrar account: as in the API, only admins may, and the pages refuse everyone else with a 403
that says so. Without credentials the registrar and DNS sandboxes answer.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from stellwerk.database import SessionDep
from stellwerk.dns.service import RECORD_TYPES, dns_service
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.identity.role import Role
from stellwerk.kit.pagination import Page
from stellwerk.provider import connect
from stellwerk.provider.dns.base import PRIORITY_TYPES
from stellwerk.provider.registrar.base import DomainCheck
from stellwerk.registrar.auth import BUY_REFUSED, may_buy_domains
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime
from stellwerk.web.auth import WebAccess
from stellwerk.web.forms import field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(include_in_schema=False)

DOMAIN_STATUSES = ("active", "pending", "failed")
MAX_CHECK = 50
DEFAULT_TTL = 3600
_SEPARATORS = re.compile(r"[\s,;]+")


WebDnsReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:dns"))]
WebDnsWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:dns"))]
WebZoneManager = Annotated[AuthSubject, Depends(WebAccess(scope="write:dns", min_role=Role.STAFF))]


# Register and transfer: admins only, the same rule as the API's `DomainBuyer`.
WebDomainBuyer = Annotated[
    AuthSubject,
    Depends(WebAccess(scope="write:dns", min_role=Role.ADMIN, refused=BUY_REFUSED)),
]


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _names(value: str) -> list[str]:
    """Domains or nameservers typed one per line, or separated by spaces or commas."""
    return [name for name in _SEPARATORS.split(value) if name]


def _whole_number(form: FormData, name: str, *, low: int, high: int, default: int) -> int:
    value = text(form, name)
    if not value:
        return default
    if not value.isdecimal() or not low <= int(value) <= high:
        raise ValidationFailed(f"Enter a whole number from {low} to {high}", field=name)
    return int(value)


def _priority(form: FormData) -> int | None:
    value = text(form, "priority")
    if not value:
        return None
    if not value.isdecimal() or int(value) > 65535:
        raise ValidationFailed("Enter a priority from 0 to 65535", field="priority")
    return int(value)


# --- registrar domains ------------------------------------------------------------------------


async def _check(runtime: Runtime, names: list[str]) -> list[DomainCheck]:
    if not names:
        raise ValidationFailed("Enter at least one domain", field="domains")
    if len(names) > MAX_CHECK:
        raise ValidationFailed(f"Check at most {MAX_CHECK} domains at once", field="domains")
    return await registrar_service.check(runtime.settings, domains=names)


@router.get("/ui/domains", response_class=HTMLResponse)
async def domains(
    request: Request,
    subject: WebDnsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    page: int = 1,
    status: str | None = None,
    check: str | None = None,
) -> Response:
    params = page_params(page)
    chosen = status if status in DOMAIN_STATUSES else None
    rows, total = await registrar_service.list(
        session, subject.principal, params=params, status=chosen
    )
    query = (check or "").strip()[:4000]
    results: list[DomainCheck] = []
    errors: dict[str, str] = {}
    if query:
        try:
            results = await _check(runtime, _names(query))
        except StellwerkError as error:
            errors = field_errors(error)
            errors.setdefault("domains", errors.pop("_", ""))
    return render(
        request,
        "domain/list.html",
        {
            "domains": rows,
            "page": Page.of(rows, total=total, params=params),
            "statuses": DOMAIN_STATUSES,
            "status": chosen or "",
            "base": "/ui/domains" + (f"?status={chosen}" if chosen else ""),
            "check": query,
            "results": results,
            "errors": errors,
            "may_buy": may_buy_domains(subject),
            "buy_refused": BUY_REFUSED,
        },
        status_code=422 if errors else 200,
    )


async def _register_page(
    request: Request,
    runtime: Runtime,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The form, with the registrar's price for the domain when it parses."""
    offer: DomainCheck | None = None
    if values.get("domain") and not errors:
        try:
            (offer,) = await _check(runtime, [values["domain"]])
        except StellwerkError as error:
            errors = {"domain": error.message}
            status_code = 422
    return render(
        request,
        "domain/register.html",
        {"values": values, "errors": errors or {}, "offer": offer},
        status_code=status_code,
    )


@router.get("/ui/domains/register", response_class=HTMLResponse)
async def register_form(
    request: Request, _: WebDomainBuyer, runtime: RuntimeDep, domain: str | None = None
) -> Response:
    values = {"domain": (domain or "").strip()[:253], "period_years": "1", "nameservers": ""}
    return await _register_page(request, runtime, values=values)


@router.post("/ui/domains/register", response_class=HTMLResponse)
async def register(
    request: Request, subject: WebDomainBuyer, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    values = {name: text(form, name) for name in ("domain", "period_years", "nameservers")}
    values["domain"] = values["domain"][:253]
    try:
        if not values["domain"]:
            raise ValidationFailed("Enter a domain like demo-shop.de", field="domain")
        row = await registrar_service.register(
            session,
            runtime.settings,
            subject.actor,
            domain=values["domain"],
            nameservers=_names(values["nameservers"])[:13],
            period_years=_whole_number(form, "period_years", low=1, high=10, default=1),
        )
    except StellwerkError as error:
        errors = field_errors(error)
        errors.setdefault("domain", errors.pop("_", ""))
        return await _register_page(request, runtime, values=values, errors=errors, status_code=422)
    price = f" for {row.price} {row.currency}" if row.price is not None else ""
    return _back(f"/ui/domains/{row.name}", f"Registered {row.name}{price}.")


def _transfer_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    # The auth code is never put back into the form.
    return render(
        request,
        "domain/transfer.html",
        {"values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/ui/domains/transfer", response_class=HTMLResponse)
async def transfer_form(request: Request, _: WebDomainBuyer) -> Response:
    return _transfer_page(request)


@router.post("/ui/domains/transfer", response_class=HTMLResponse)
async def transfer(
    request: Request, subject: WebDomainBuyer, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    values = {name: text(form, name) for name in ("domain", "nameservers")}
    values["domain"] = values["domain"][:253]
    auth_code = text(form, "auth_code")
    try:
        if not values["domain"]:
            raise ValidationFailed("Enter the domain to move here", field="domain")
        if not 4 <= len(auth_code) <= 200:
            raise ValidationFailed(
                "Enter the auth code from the current registrar", field="auth_code"
            )
        row = await registrar_service.transfer(
            session,
            runtime.settings,
            subject.actor,
            domain=values["domain"],
            auth_code=auth_code,
            nameservers=_names(values["nameservers"])[:13],
        )
    except StellwerkError as error:
        errors = field_errors(error)
        errors.setdefault("domain", errors.pop("_", ""))
        return _transfer_page(request, values=values, errors=errors, status_code=422)
    return _back(
        f"/ui/domains/{row.name}",
        f"The transfer of {row.name} started; it is {row.status} until the registrar completes it.",
    )


@router.get("/ui/domains/{name}", response_class=HTMLResponse)
async def domain_detail(
    name: str, request: Request, subject: WebDnsReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """One domain; a pending transfer is looked up at the registrar first, as in the API."""
    row = await registrar_service.get(session, runtime.settings, subject.principal, name)
    contact = None
    # Contacts (who holds the company's domains) are for admins, as in the API.
    if row.contact_id is not None and subject.owner_is_admin:
        contact = await registrar_service.get_contact(session, row.contact_id)
    return render(request, "domain/detail.html", {"domain": row, "contact": contact})


# --- DNS zones and records --------------------------------------------------------------------


async def _zones_page(
    request: Request,
    subject: AuthSubject,
    session: SessionDep,
    runtime: Runtime,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "domain/zones.html",
        {
            "zones": await dns_service.zones(session, subject.principal),
            "may_manage_zones": subject.principal.is_company,
            "providers": connect.dns_providers(),
            "default_provider": runtime.settings.dns_default_provider,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/dns", response_class=HTMLResponse)
async def zones(
    request: Request,
    subject: WebDnsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    zone: str | None = None,
) -> Response:
    if zone and zone.strip():
        # "Open a zone": any zone the default provider serves, known here or not.
        try:
            ref = await dns_service.zone(
                session, runtime.settings, subject.principal, zone.strip()[:253]
            )
        except StellwerkError as error:
            return await _zones_page(
                request,
                subject,
                session,
                runtime,
                values={"zone": zone[:253]},
                errors={"zone": error.message},
                status_code=422,
            )
        return RedirectResponse(f"/ui/dns/{ref.name}", status_code=303)
    return await _zones_page(request, subject, session, runtime)


@router.post("/ui/dns", response_class=HTMLResponse)
async def add_zone(
    request: Request, subject: WebZoneManager, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    values = {"name": text(form, "name")[:253], "provider": text(form, "provider")}
    try:
        if not values["name"]:
            raise ValidationFailed("Enter a zone like demo-shop.de", field="name")
        row = await dns_service.add_zone(
            session,
            runtime.settings,
            subject.actor,
            subject.principal,
            name=values["name"],
            provider=values["provider"] or None,
        )
    except StellwerkError as error:
        errors = field_errors(error)
        errors.setdefault("name", errors.pop("_", ""))
        return await _zones_page(
            request, subject, session, runtime, values=values, errors=errors, status_code=422
        )
    return _back(f"/ui/dns/{row.name}", f"{row.name} is served by {row.provider}.")


@router.post("/ui/dns/{zone}/remove")
async def remove_zone(zone: str, subject: WebZoneManager, session: SessionDep) -> Response:
    try:
        await dns_service.remove_zone(session, subject.actor, subject.principal, zone)
    except StellwerkError as error:
        return _back("/ui/dns", f"Not removed: {error.message}")
    return _back("/ui/dns", f"Forgot {zone}; its records at the provider stay.")


async def _records_page(
    request: Request,
    subject: AuthSubject,
    session: SessionDep,
    runtime: Runtime,
    zone: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: str | None = None,
    edit_values: dict[str, str] | None = None,
    edit_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ref = await dns_service.zone(session, runtime.settings, subject.principal, zone)
    records: list[Any] = []
    load_error = None
    try:
        _, records = await dns_service.records(
            session, runtime.settings, subject.principal, ref.name
        )
    except StellwerkError as error:
        load_error = error.message
    records.sort(key=lambda r: (r.name != "@", r.name, r.type, r.content))
    known = any(row.name == ref.name for row in await dns_service.zones(session, subject.principal))
    return render(
        request,
        "domain/records.html",
        {
            "zone": ref,
            "known": known,
            "records": records,
            "load_error": load_error,
            "types": RECORD_TYPES,
            "priority_types": PRIORITY_TYPES,
            "values": values or {"name": "@", "type": "A", "ttl": str(DEFAULT_TTL)},
            "errors": errors or {},
            "editing": editing,
            "edit_values": edit_values or {},
            "edit_errors": edit_errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/dns/{zone}", response_class=HTMLResponse)
async def records(
    zone: str, request: Request, subject: WebDnsReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _records_page(request, subject, session, runtime, zone)


@router.post("/ui/dns/{zone}/records", response_class=HTMLResponse)
async def create_record(
    zone: str,
    request: Request,
    subject: WebDnsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form = await read_form(request)
    names = ("name", "type", "content", "ttl", "priority")
    values = {name: text(form, name)[:4000] for name in names}
    try:
        if not values["content"]:
            raise ValidationFailed("Enter the record's value", field="content")
        ref, record = await dns_service.create_record(
            session,
            runtime.settings,
            subject.actor,
            subject.principal,
            zone,
            name=values["name"] or "@",
            type=values["type"],
            content=values["content"],
            ttl=_whole_number(form, "ttl", low=60, high=86400, default=DEFAULT_TTL),
            priority=_priority(form),
        )
    except StellwerkError as error:
        errors = field_errors(error)
        errors.setdefault("content", errors.pop("_", ""))
        return await _records_page(
            request,
            subject,
            session,
            runtime,
            zone,
            values=values,
            errors=errors,
            status_code=422,
        )
    return _back(f"/ui/dns/{ref.name}", f"Added {record.type} {record.fqdn}.")


@router.post("/ui/dns/{zone}/records/{record_id}", response_class=HTMLResponse)
async def update_record(
    zone: str,
    record_id: str,
    request: Request,
    subject: WebDnsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form = await read_form(request)
    values = {name: text(form, name)[:4000] for name in ("content", "ttl", "priority")}
    try:
        if not values["content"]:
            raise ValidationFailed("Enter the record's value", field="content")
        ref, record = await dns_service.update_record(
            session,
            runtime.settings,
            subject.actor,
            subject.principal,
            zone,
            record_id,
            content=values["content"],
            ttl=_whole_number(form, "ttl", low=60, high=86400, default=DEFAULT_TTL),
            priority=_priority(form),
        )
    except StellwerkError as error:
        errors = field_errors(error)
        errors.setdefault("content", errors.pop("_", ""))
        return await _records_page(
            request,
            subject,
            session,
            runtime,
            zone,
            editing=record_id,
            edit_values=values,
            edit_errors=errors,
            status_code=422,
        )
    return _back(f"/ui/dns/{ref.name}", f"Saved {record.type} {record.fqdn}.")


@router.post("/ui/dns/{zone}/records/{record_id}/delete")
async def delete_record(
    zone: str, record_id: str, subject: WebDnsWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    ref = await dns_service.zone(session, runtime.settings, subject.principal, zone)
    try:
        await dns_service.delete_record(
            session, runtime.settings, subject.actor, subject.principal, zone, record_id
        )
    except StellwerkError as error:
        return _back(f"/ui/dns/{ref.name}", f"Not deleted: {error.message}")
    return _back(f"/ui/dns/{ref.name}", "Deleted the record.")
