"""Pages for licensing: licenses, customers, the resource pool, releases and client configs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from stellwerk.customer.service import customer as customer_service
from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject
from stellwerk.kit.pagination import Page
from stellwerk.license import service as license_services
from stellwerk.license.service import license_service
from stellwerk.resource.service import resource as resource_service
from stellwerk.web.auth import WebAccess
from stellwerk.web.charts import bar_list, daily_bars
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

WebCustomersReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:customers"))]
WebCustomersWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:customers"))]
WebLicensesReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:licenses"))]
WebLicensesWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:licenses"))]
WebReleasesReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:releases"))]
WebReleasesWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:releases"))]
WebResourcesReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:resources"))]
WebResourcesWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:resources"))]

router = APIRouter(include_in_schema=False)

LICENSE_TYPES = ("perpetual", "subscription", "trial")
RESOURCE_STATUSES = ("available", "allocated", "disabled")
BULK_ACTIONS = ("activate", "deactivate", "delete")
CHART_DAYS = 30


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _day(form: FormData, name: str) -> dt.date | None:
    value = text(form, name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise ValidationFailed("Use a date like 2027-01-31", field=name) from error


def _number(form: FormData, name: str, *, low: int = 0, high: int = 1_000_000) -> int:
    value = text(form, name)
    try:
        number = int(value)
    except ValueError as error:
        raise ValidationFailed("Enter a whole number", field=name) from error
    if not low <= number <= high:
        raise ValidationFailed(f"Enter a number from {low} to {high}", field=name)
    return number


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _query(**values: object) -> str:
    """The list's current filters, for pagination links."""
    pairs = [f"{k}={v}" for k, v in values.items() if v not in (None, "")]
    return "&".join(pairs)


def _activation_chart(counts: dict[dt.date, int], title: str) -> Any:
    end = license_services.today()
    return daily_bars(
        counts,
        start=end - dt.timedelta(days=CHART_DAYS - 1),
        end=end,
        title=title,
        unit="Activations",
    )


# --- licenses ---------------------------------------------------------------------------------


@router.get("/ui/licenses", response_class=HTMLResponse)
async def licenses(
    request: Request,
    _: WebLicensesReader,
    session: SessionDep,
    page: int = 1,
    q: str | None = None,
    customer_id: str | None = None,
    type: str | None = None,
    active: str | None = None,
    expiring: str | None = None,
) -> Response:
    params = page_params(page)
    query = (q or "").strip()[:100]
    customer = _int_or_none(customer_id)
    license_type = type if type in LICENSE_TYPES else None
    is_active = {"true": True, "false": False}.get(active or "")
    expiring_days = _int_or_none(expiring)
    rows, total = await license_service.list(
        session,
        params=params,
        query=query or None,
        customer_id=customer,
        is_active=is_active,
        license_type=license_type,
        expiring_within_days=expiring_days,
    )
    devices = await license_service.active_devices(session, rows)
    customer_name = None
    if customer is not None:
        try:
            customer_name = (await customer_service.get(session, customer)).name
        except StellwerkError:
            customer_name = None
    filters = _query(
        q=query,
        customer_id=customer,
        type=license_type,
        active=active if is_active is not None else None,
        expiring=expiring_days,
    )
    per_day = await license_services.activation.per_day(session, days=CHART_DAYS)
    return render(
        request,
        "license/list.html",
        {
            "licenses": rows,
            "devices": devices,
            "page": Page.of(rows, total=total, params=params),
            "types": LICENSE_TYPES,
            "filters": {
                "q": query,
                "customer_id": customer,
                "customer_name": customer_name,
                "type": license_type,
                "active": active if is_active is not None else "",
                "expiring": expiring_days,
            },
            "base": "/ui/licenses" + (f"?{filters}" if filters else ""),
            "chart": _activation_chart(per_day, f"Activations, last {CHART_DAYS} days"),
            "today": license_services.today(),
        },
    )


@router.post("/ui/licenses/bulk")
async def bulk(request: Request, subject: WebLicensesWriter, session: SessionDep) -> Response:
    form = await read_form(request)
    action = text(form, "action")
    back = text(form, "back") or "/ui/licenses"
    if not back.startswith("/ui/licenses"):
        back = "/ui/licenses"
    ids = [
        i
        for i in (_int_or_none(v if isinstance(v, str) else None) for v in form.getlist("ids"))
        if i
    ]
    if action not in BULK_ACTIONS:
        return _back(back, "Choose an action.")
    if not ids:
        return _back(back, "Select at least one license.")
    try:
        if action == "delete":
            changed = await license_service.bulk_delete(session, subject.actor, ids)
            return _back(back, f"Deleted {changed} license(s).")
        changed = await license_service.bulk_set_active(
            session, subject.actor, ids, is_active=action == "activate"
        )
    except StellwerkError as error:
        return _back(back, error.message)
    return _back(back, f"{action.capitalize()}d {changed} license(s).")


async def _new_license_page(
    request: Request,
    session: SessionDep,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    customer = None
    customer_id = _int_or_none(str(values.get("customer_id") or ""))
    if customer_id is not None:
        try:
            customer = await customer_service.get(session, customer_id)
        except StellwerkError:
            customer = None
    return render(
        request,
        "license/new.html",
        {"values": values, "errors": errors, "types": LICENSE_TYPES, "customer": customer},
        status_code=status_code,
    )


@router.get("/ui/licenses/new", response_class=HTMLResponse)
async def new_license(
    request: Request, _: WebLicensesReader, session: SessionDep, customer_id: str | None = None
) -> Response:
    key = await license_service.generate_key(session)
    values = {
        "license_key": key,
        "customer_id": customer_id or "",
        "license_type": "perpetual",
        "max_activations": 1,
        "max_users": 1,
        "is_active": True,
    }
    return await _new_license_page(request, session, values=values, errors={})


@router.post("/ui/licenses", response_class=HTMLResponse)
async def create_license(
    request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    values: dict[str, Any] = {
        name: text(form, name)
        for name in (
            "license_key",
            "customer_id",
            "license_type",
            "valid_from",
            "valid_until",
            "max_activations",
            "max_users",
            "notes",
        )
    }
    values["is_active"] = checked(form, "is_active")
    try:
        customer_id = _int_or_none(values["customer_id"])
        if customer_id is None:
            raise ValidationFailed("Choose a customer", field="customer_id")
        if values["license_type"] not in LICENSE_TYPES:
            raise ValidationFailed("Choose a license type", field="license_type")
        license = await license_service.create(
            session,
            subject.actor,
            customer_id=customer_id,
            license_key=values["license_key"] or None,
            license_type=values["license_type"],
            valid_from=_day(form, "valid_from"),
            valid_until=_day(form, "valid_until"),
            max_activations=_number(form, "max_activations", low=1, high=10_000),
            max_users=_number(form, "max_users", low=1, high=10_000),
            is_active=values["is_active"],
            notes=values["notes"] or None,
        )
    except StellwerkError as error:
        errors = field_errors(error)
        if "license_key" in errors or error.code == "license_key_taken":
            errors = {"license_key": error.message}
        return await _new_license_page(
            request, session, values=values, errors=errors, status_code=422
        )
    return _back(f"/ui/licenses/{license.id}", f"Created license {license.license_key}.")


@router.get("/ui/licenses/{license_id:int}", response_class=HTMLResponse)
async def license_detail(
    license_id: int, request: Request, _: WebLicensesReader, session: SessionDep
) -> Response:
    license = await license_service.get(session, license_id)
    devices = await license_services.activation.devices(session, license)
    sessions = await license_service.sessions(session, license)
    resources = await resource_service.for_license(session, license.id)
    available, _total = await resource_service.list(
        session, params=page_params(1, 100), status="available"
    )
    per_day = await license_services.activation.per_day(
        session, days=CHART_DAYS, license_id=license.id
    )
    return render(
        request,
        "license/detail.html",
        {
            "license": license,
            "devices": devices,
            "active_devices": sum(1 for d in devices if d.is_active),
            "sessions": sessions,
            "resources": resources,
            "available": available,
            "chart": _activation_chart(per_day, f"Activations, last {CHART_DAYS} days"),
            "errors": {},
        },
    )


@router.post("/ui/licenses/{license_id:int}/toggle")
async def toggle_license(
    license_id: int, request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    back = text(form, "back")
    license = await license_service.get(session, license_id)
    await license_service.toggle(session, subject.actor, license)
    state = "active" if license.is_active else "inactive"
    target = back if back.startswith("/ui/licenses") else f"/ui/licenses/{license_id}"
    return _back(target, f"License {license.license_key} is {state}.")


@router.post("/ui/licenses/{license_id:int}/quick-edit")
async def quick_edit(
    license_id: int, request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    back = text(form, "back")
    target = back if back.startswith("/ui/licenses") else f"/ui/licenses/{license_id}"
    license = await license_service.get(session, license_id)
    try:
        changes: dict[str, Any] = {
            "valid_until": _day(form, "valid_until"),
            "max_activations": _number(form, "max_activations", low=1, high=10_000),
            "max_users": _number(form, "max_users", low=1, high=10_000),
        }
        await license_service.update(
            session, subject.actor, license, changes=changes, action="license.quick_edit"
        )
    except StellwerkError as error:
        return _back(target, f"Not saved: {error.message}")
    return _back(target, f"Saved {license.license_key}.")


@router.post("/ui/licenses/{license_id:int}/delete")
async def delete_license(
    license_id: int, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    license = await license_service.get(session, license_id)
    key = license.license_key
    await license_service.delete(session, subject.actor, license)
    return _back("/ui/licenses", f"Deleted license {key}.")


@router.post("/ui/licenses/{license_id:int}/devices")
async def register_device(
    license_id: int, request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    target = f"/ui/licenses/{license_id}"
    hardware_hash = text(form, "hardware_hash")[:255]
    if not hardware_hash:
        return _back(target, "Not activated: enter the device's hardware hash.")
    try:
        result = await license_services.activation.activate(
            session,
            subject.actor,
            license_id=license_id,
            hardware_hash=hardware_hash,
            machine_name=text(form, "machine_name")[:255] or None,
        )
    except StellwerkError as error:
        return _back(target, f"Not activated: {error.message}")
    if result.already_activated:
        return _back(target, "That device was already activated.")
    return _back(target, "Activated on the device.")


@router.post("/ui/licenses/{license_id:int}/devices/{device_id:int}/deactivate")
async def deactivate_device(
    license_id: int, device_id: int, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    license = await license_service.get(session, license_id)
    await license_services.activation.deactivate_device(session, subject.actor, license, device_id)
    return _back(f"/ui/licenses/{license_id}", "The device is deactivated; its seat is free.")


@router.post("/ui/licenses/{license_id:int}/resources")
async def allocate_to_license(
    license_id: int, request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    resource_id = _int_or_none(text(form, "resource_id"))
    target = f"/ui/licenses/{license_id}"
    if resource_id is None:
        return _back(target, "Choose a resource.")
    try:
        await resource_service.allocate(
            session, subject.actor, license_id=license_id, resource_ids=[resource_id]
        )
    except StellwerkError as error:
        return _back(target, f"Not allocated: {error.message}")
    return _back(target, "The resource is allocated.")


@router.post("/ui/licenses/{license_id:int}/resources/{resource_id:int}/release")
async def release_from_license(
    license_id: int, resource_id: int, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    target = f"/ui/licenses/{license_id}"
    try:
        await resource_service.release(
            session, subject.actor, license_id=license_id, resource_ids=[resource_id]
        )
    except StellwerkError as error:
        return _back(target, error.message)
    return _back(target, "The resource is back in the pool.")


# --- customers --------------------------------------------------------------------------------


async def _customers_page(
    request: Request,
    session: SessionDep,
    *,
    q: str,
    page: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = page_params(page)
    rows, total = await customer_service.search(session, query=q or None, params=params)
    counts = await customer_service.license_counts(session, rows)
    return render(
        request,
        "license/customers.html",
        {
            "customers": rows,
            "counts": counts,
            "q": q,
            "page": Page.of(rows, total=total, params=params),
            "base": "/ui/customers" + (f"?q={q}" if q else ""),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/ui/customers", response_class=HTMLResponse)
async def customers(
    request: Request,
    _: WebCustomersReader,
    session: SessionDep,
    page: int = 1,
    q: str | None = None,
) -> Response:
    return await _customers_page(request, session, q=(q or "").strip()[:100], page=page)


@router.get("/ui/customers/search", response_class=HTMLResponse)
async def customer_search(
    request: Request,
    _: WebCustomersReader,
    session: SessionDep,
    q: str | None = None,
    pick: str | None = None,
) -> Response:
    """The fragment search-as-you-type fetches: a list of matching customers."""
    query = (q or "").strip()[:100]
    rows, total = await customer_service.search(
        session, query=query or None, params=page_params(1, 10)
    )
    counts = await customer_service.license_counts(session, rows)
    return render(
        request,
        "license/_customer_results.html",
        {"customers": rows, "counts": counts, "total": total, "q": query, "pick": bool(pick)},
    )


@router.post("/ui/customers", response_class=HTMLResponse)
async def create_customer(
    request: Request, subject: WebCustomersWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    values = {name: text(form, name) for name in ("name", "email", "notes")}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Enter a name"
    elif len(values["name"]) > 255:
        errors["name"] = "At most 255 characters"
    if values["email"] and "@" not in values["email"]:
        errors["email"] = "Enter an email address like name@example.com"
    if errors:
        return await _customers_page(
            request, session, q="", page=1, errors=errors, values=values, status_code=422
        )
    customer = await customer_service.create(
        session,
        subject.actor,
        name=values["name"],
        email=values["email"] or None,
        notes=values["notes"] or None,
    )
    return _back(f"/ui/customers/{customer.id}", f"Created customer {customer.name}.")


@router.get("/ui/customers/{customer_id:int}", response_class=HTMLResponse)
async def customer_detail(
    customer_id: int, request: Request, _: WebCustomersReader, session: SessionDep, page: int = 1
) -> Response:
    customer = await customer_service.get(session, customer_id)
    params = page_params(page)
    rows, total = await license_service.list(session, params=params, customer_id=customer.id)
    devices = await license_service.active_devices(session, rows)
    return render(
        request,
        "license/customer.html",
        {
            "customer": customer,
            "licenses": rows,
            "devices": devices,
            "page": Page.of(rows, total=total, params=params),
            "errors": {},
        },
    )


@router.post("/ui/customers/{customer_id:int}", response_class=HTMLResponse)
async def update_customer(
    customer_id: int, request: Request, subject: WebCustomersWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    customer = await customer_service.get(session, customer_id)
    name, email = text(form, "name"), text(form, "email")
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Enter a name"
    if email and "@" not in email:
        errors["email"] = "Enter an email address like name@example.com"
    if errors:
        params = page_params(1)
        rows, total = await license_service.list(session, params=params, customer_id=customer.id)
        return render(
            request,
            "license/customer.html",
            {
                "customer": customer,
                "licenses": rows,
                "devices": await license_service.active_devices(session, rows),
                "page": Page.of(rows, total=total, params=params),
                "errors": errors,
            },
            status_code=422,
        )
    await customer_service.update(
        session,
        subject.actor,
        customer,
        changes={"name": name, "email": email or None, "notes": text(form, "notes") or None},
    )
    return _back(f"/ui/customers/{customer_id}", f"Saved {customer.name}.")


@router.post("/ui/customers/{customer_id:int}/delete")
async def delete_customer(
    customer_id: int, request: Request, subject: WebCustomersWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    customer = await customer_service.get(session, customer_id)
    name = customer.name
    deleted = await customer_service.delete(
        session, subject.actor, customer, cascade=checked(form, "cascade")
    )
    return _back("/ui/customers", f"Deleted {name} and {deleted} license(s).")


# --- resources --------------------------------------------------------------------------------


@router.get("/ui/resources", response_class=HTMLResponse)
async def resources(
    request: Request,
    _: WebResourcesReader,
    session: SessionDep,
    page: int = 1,
    type: str | None = None,
    status: str | None = None,
) -> Response:
    params = page_params(page)
    resource_type = (type or "").strip()[:40] or None
    state = status if status in RESOURCE_STATUSES else None
    rows, total = await resource_service.list(
        session, params=params, resource_type=resource_type, status=state
    )
    filters = _query(type=resource_type, status=state)
    return render(
        request,
        "license/resources.html",
        {
            "resources": rows,
            "page": Page.of(rows, total=total, params=params),
            "statuses": RESOURCE_STATUSES,
            "type": resource_type or "",
            "status": state or "",
            "base": "/ui/resources" + (f"?{filters}" if filters else ""),
            "errors": {},
            "values": {},
        },
    )


@router.post("/ui/resources", response_class=HTMLResponse)
async def add_resource(
    request: Request, subject: WebResourcesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    values = {"resource_type": text(form, "resource_type"), "identifier": text(form, "identifier")}
    try:
        if not values["resource_type"]:
            raise ValidationFailed("Enter a type, like server or domain", field="resource_type")
        if not values["identifier"]:
            raise ValidationFailed("Enter the resource's name or address", field="identifier")
        created = await resource_service.create(
            session,
            subject.actor,
            resource_type=values["resource_type"][:40],
            identifier=values["identifier"][:255],
        )
    except StellwerkError as error:
        params = page_params(1)
        rows, total = await resource_service.list(session, params=params)
        errors = field_errors(error)
        if "_" in errors and error.code.endswith("exists"):
            errors = {"identifier": error.message}
        return render(
            request,
            "license/resources.html",
            {
                "resources": rows,
                "page": Page.of(rows, total=total, params=params),
                "statuses": RESOURCE_STATUSES,
                "type": "",
                "status": "",
                "base": "/ui/resources",
                "errors": errors,
                "values": values,
            },
            status_code=422,
        )
    return _back("/ui/resources", f"Added {created.resource_type} {created.identifier}.")


@router.post("/ui/resources/{resource_id:int}/allocate")
async def allocate_resource(
    resource_id: int, request: Request, subject: WebResourcesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    license_ref = text(form, "license")
    try:
        license_id = _int_or_none(license_ref)
        if license_id is None:
            license_id = (await license_service.get_by_key(session, license_ref.upper())).id
        await resource_service.allocate(
            session, subject.actor, license_id=license_id, resource_ids=[resource_id]
        )
    except StellwerkError as error:
        return _back("/ui/resources", f"Not allocated: {error.message}")
    return _back("/ui/resources", "The resource is allocated.")


@router.post("/ui/resources/{resource_id:int}/release")
async def release_resource(
    resource_id: int, subject: WebResourcesWriter, session: SessionDep
) -> Response:
    resource = await resource_service.get(session, resource_id)
    if resource.license_id is None:
        return _back("/ui/resources", "The resource is not allocated.")
    await resource_service.release(
        session, subject.actor, license_id=resource.license_id, resource_ids=[resource_id]
    )
    return _back("/ui/resources", "The resource is back in the pool.")


# --- releases and client configs --------------------------------------------------------------


async def _releases_page(
    request: Request,
    session: SessionDep,
    *,
    page: int = 1,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = page_params(page)
    rows, total = await license_services.release.list(session, channel=None, params=params)
    by_channel: dict[str, int] = {}
    for row in rows:
        by_channel[row.channel] = by_channel.get(row.channel, 0) + 1
    return render(
        request,
        "license/releases.html",
        {
            "releases": rows,
            "page": Page.of(rows, total=total, params=params),
            "errors": errors or {},
            "values": values or {"channel": "stable"},
            "channels": bar_list(
                sorted(by_channel.items(), key=lambda item: -item[1]),
                title="Releases per channel (this page)",
                unit="Releases",
            ),
        },
        status_code=status_code,
    )


@router.get("/ui/releases", response_class=HTMLResponse)
async def releases(
    request: Request, _: WebReleasesReader, session: SessionDep, page: int = 1
) -> Response:
    return await _releases_page(request, session, page=page)


@router.post("/ui/releases", response_class=HTMLResponse)
async def publish_release(
    request: Request, subject: WebReleasesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    names = ("version", "channel", "release_date", "download_url", "release_notes", "min_supported")
    values = {name: text(form, name) for name in names}
    try:
        if not values["version"]:
            raise ValidationFailed("Enter a version like 1.4.0", field="version")
        created = await license_services.release.create(
            session,
            subject.actor,
            version=values["version"],
            channel=values["channel"] or "stable",
            release_date=_day(form, "release_date"),
            download_url=values["download_url"] or None,
            release_notes=values["release_notes"] or None,
            min_supported_version=values["min_supported"] or None,
        )
    except (StellwerkError, ValueError) as error:
        errors = (
            field_errors(error)
            if isinstance(error, StellwerkError)
            else {"version": f"Not a version: {error}"}
        )
        if "min_supported_version" in errors:
            errors["min_supported"] = errors.pop("min_supported_version")
        if "_" in errors and isinstance(error, StellwerkError) and error.code == "release_exists":
            errors = {"version": error.message}
        return await _releases_page(request, session, errors=errors, values=values, status_code=422)
    return _back("/ui/releases", f"Published {created.version} on {created.channel}.")


@router.get("/ui/client-configs", response_class=HTMLResponse)
async def client_configs(
    request: Request, _: WebLicensesReader, session: SessionDep, page: int = 1
) -> Response:
    params = page_params(page)
    rows, total = await license_services.client_config.list(session, params=params)
    return render(
        request,
        "license/client_configs.html",
        {"configs": rows, "page": Page.of(rows, total=total, params=params)},
    )


@router.post("/ui/client-configs/{config_id:int}")
async def update_client_config(
    config_id: int, request: Request, subject: WebLicensesWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    config = await license_services.client_config.get(session, config_id)
    try:
        changes: dict[str, Any] = {
            "heartbeat_interval": _number(form, "heartbeat_interval", low=5, high=86_400),
            "session_timeout": _number(form, "session_timeout", low=10, high=604_800),
            "single_session": checked(form, "single_session"),
        }
        if text(form, "current_version"):
            changes["current_version"] = text(form, "current_version")[:64]
        await license_services.client_config.update(session, subject.actor, config, changes=changes)
    except StellwerkError as error:
        return _back("/ui/client-configs", f"Not saved: {error.message}")
    return _back("/ui/client-configs", f"Saved {config.name}.")


# The admin panel paths the global search's `url` values name (v2-license-server-api.md):
# each opens the matching page (after the login, for a browser without a session).


@router.get("/customer/edit/{customer_id:int}")
async def customer_edit_path(customer_id: int, _: WebCustomersReader) -> Response:
    return RedirectResponse(f"/ui/customers/{customer_id}", status_code=303)


@router.get("/license/edit/{license_id:int}")
async def license_edit_path(license_id: int, _: WebLicensesReader) -> Response:
    return RedirectResponse(f"/ui/licenses/{license_id}", status_code=303)
