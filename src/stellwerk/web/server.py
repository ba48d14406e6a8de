"""Pages for servers: providers and plans (admins), servers with live status, create and actions."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import Page
from stellwerk.models import ServiceProvider, VpsInstance
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED
from stellwerk.provider import check as check_kit
from stellwerk.provider import registry
from stellwerk.runtime import Runtime
from stellwerk.server.auth import order_rules, sees_costs
from stellwerk.server.service import (
    catalog_service,
    instance_service,
    plan_service,
    provider_service,
)
from stellwerk.web.auth import WebAccess, WebAdmin
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

WebServerReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:servers"))]
WebServerWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:servers"))]

router = APIRouter(include_in_schema=False)

# Power actions every provider offers; power_cycle only where the provider has it.
ACTION_LABELS = {
    "boot": "Boot",
    "shutdown": "Shut down",
    "reboot": "Reboot",
    "power_off": "Power off",
    "power_cycle": "Power cycle",
    "delete": "Delete",
}
# What each state allows: no "Boot" on a running server, nothing but waiting (or deleting)
# while it changes state. A state the provider reported that Stellwerk does not know
# (`unknown`) offers everything: the provider decides.
STATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "running": ("shutdown", "reboot", "power_off", "power_cycle"),
    "off": ("boot",),
    "stopped": ("boot",),
    "unknown": ("boot", "shutdown", "reboot", "power_off", "power_cycle"),
}
# The API's limits (InstanceCreate), checked before anything is ordered.
MAX_SSH_KEYS = 50
MAX_USER_DATA = 65536
# States that change on their own: the pages keep polling while a server is in one.
SETTLING = frozenset({"provisioning", "starting", "stopping", "rebooting", "initializing"})


def confirmation(action: str, instance: VpsInstance) -> str | None:
    """What to ask before an action that can lose data (None: a graceful one, just do it)."""
    label = instance.label
    return {
        "delete": f"Delete {label} at {instance.provider_type}? Its disks are gone for good.",
        "power_off": f"Power off {label}? Like pulling the plug: unsaved data is lost.",
        "power_cycle": f"Power cycle {label}? Like pulling the plug and plugging it in again.",
    }.get(action)


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _password(form: FormData) -> str | None:
    """The root password as typed (spaces count), or None when left empty."""
    value = form.get("rootPassword")
    return value if isinstance(value, str) and value else None


def _money(form: FormData, name: str) -> Decimal:
    try:
        value = Decimal(text(form, name) or "0")
    except InvalidOperation as error:
        raise ValidationFailed("Enter an amount like 12.50", field=name) from error
    if value < 0 or value > 1_000_000:
        raise ValidationFailed("Enter an amount from 0 to 1000000", field=name)
    return value


def actions_for(instance: VpsInstance) -> list[str]:
    """The actions that make sense in the server's state, delete last."""
    if instance.status == "deleted":
        return []
    entry = registry.find(instance.provider_type or "")
    cycles = bool(
        entry is not None
        and entry.capabilities
        and "power_cycle" in entry.capabilities.power_actions
    )
    actions = [
        action
        for action in STATE_ACTIONS.get(instance.status, ())
        if action != "power_cycle" or cycles
    ]
    # A server still being created (or that failed before) has nothing at the provider to
    # delete yet.
    if instance.provider_instance_id is not None:
        actions.append("delete")
    return actions


async def _instance(
    session: SessionDep, subject: AuthSubject, instance_id: uuid.UUID
) -> VpsInstance:
    """The company sees every server; a customer only their own (others' are 404)."""
    return await instance_service.get(session, subject.principal, instance_id)


# --- providers --------------------------------------------------------------------------------


async def _providers_page(
    request: Request,
    session: SessionDep,
    runtime: Runtime,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    check: check_kit.Report | None = None,
) -> Response:
    providers = await provider_service.list(session)
    return render(
        request,
        "server/providers.html",
        {
            "providers": providers,
            "types": registry.compute_types(),
            "sandbox": runtime.settings.sandbox_enabled,
            "integrations": provider_service.integrations(runtime.settings),
            "check": check,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/ui/providers", response_class=HTMLResponse)
async def providers(
    request: Request, _: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _providers_page(request, session, runtime)


@router.post("/ui/providers", response_class=HTMLResponse)
async def create_provider(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    # The API key is never put back into the form, not even after an error.
    values = {name: text(form, name) for name in ("name", "type", "api_url", "default_region")}
    configuration: dict[str, Any] = {}
    if values["api_url"]:
        configuration["api_url"] = values["api_url"]
    if values["default_region"]:
        configuration["default_region"] = values["default_region"]
    try:
        if not values["name"]:
            raise ValidationFailed("Enter a name", field="name")
        provider = await provider_service.create(
            session,
            subject.actor,
            settings=runtime.settings,
            sandboxes=runtime.sandboxes,
            name=values["name"][:255],
            type=values["type"],
            api_key=text(form, "api_key"),
            configuration=configuration,
            active=True,
        )
    except StellwerkError as error:
        errors = field_errors(error)
        if "configuration" in errors:
            errors["api_url"] = errors.pop("configuration")
        return await _providers_page(
            request, session, runtime, errors=errors, values=values, status_code=422
        )
    return _back("/ui/providers", f"Added {provider.name}; its API key checked out.")


async def _provider(session: SessionDep, provider_id: uuid.UUID) -> ServiceProvider:
    return await provider_service.get(session, provider_id)


@router.post("/ui/providers/{provider_id}/check", response_class=HTMLResponse)
async def check_provider(
    provider_id: uuid.UUID,
    request: Request,
    _: WebAdmin,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Read-only calls with the provider's stored key; the verdict shows on the page."""
    provider = await _provider(session, provider_id)
    report = await provider_service.check(session, runtime.settings, provider)
    return await _providers_page(request, session, runtime, check=report)


@router.post("/ui/providers/integrations/{name}/check", response_class=HTMLResponse)
async def check_integration(
    name: str, request: Request, _: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The same for INWX, Coolify, Hetzner DNS or PowerDNS, with the configured settings."""
    try:
        report = await provider_service.check_integration(runtime.settings, name)
    except StellwerkError as error:
        return _back("/ui/providers", error.message)
    return await _providers_page(request, session, runtime, check=report)


@router.post("/ui/providers/{provider_id}/toggle")
async def toggle_provider(
    provider_id: uuid.UUID, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    provider = await _provider(session, provider_id)
    try:
        await provider_service.update(
            session,
            subject.actor,
            provider,
            settings=runtime.settings,
            sandboxes=runtime.sandboxes,
            active=not provider.active,
        )
    except StellwerkError as error:
        return _back("/ui/providers", error.message)
    state = "active" if provider.active else "inactive"
    return _back("/ui/providers", f"{provider.name} is {state}.")


@router.post("/ui/providers/{provider_id}/api-key")
async def replace_api_key(
    provider_id: uuid.UUID,
    request: Request,
    subject: WebAdmin,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form = await read_form(request)
    provider = await _provider(session, provider_id)
    try:
        await provider_service.update(
            session,
            subject.actor,
            provider,
            settings=runtime.settings,
            sandboxes=runtime.sandboxes,
            api_key=text(form, "api_key"),
        )
    except StellwerkError as error:
        return _back("/ui/providers", f"The key was not changed: {error.message}")
    return _back("/ui/providers", f"{provider.name} has a new API key.")


@router.post("/ui/providers/{provider_id}/clear-cache")
async def clear_cache(
    provider_id: uuid.UUID, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    provider = await _provider(session, provider_id)
    await provider_service.clear_cache(session, subject.actor, provider, settings=runtime.settings)
    return _back("/ui/providers", f"The catalog cache of {provider.name} is cleared.")


@router.post("/ui/providers/{provider_id}/delete")
async def delete_provider(
    provider_id: uuid.UUID, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    provider = await _provider(session, provider_id)
    name = provider.name
    try:
        await provider_service.delete(session, subject.actor, provider, settings=runtime.settings)
    except StellwerkError as error:
        return _back("/ui/providers", error.message)
    return _back("/ui/providers", f"Deleted {name}.")


# --- plans ------------------------------------------------------------------------------------


async def _plans_page(
    request: Request,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    plans = await plan_service.list(session)
    providers = await provider_service.list(session)
    return render(
        request,
        "server/plans.html",
        {
            "plans": plans,
            "providers": providers,
            "provider_names": {p.id: p.name for p in providers},
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/ui/plans", response_class=HTMLResponse)
async def plans(request: Request, _: WebAdmin, session: SessionDep) -> Response:
    return await _plans_page(request, session)


@router.post("/ui/plans", response_class=HTMLResponse)
async def create_plan(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    names = ("provider_id", "provider_plan_id", "base_price", "markup_price")
    values = {name: text(form, name) for name in names}
    try:
        provider_id = _uuid_or_none(values["provider_id"])
        if provider_id is None:
            raise ValidationFailed("Choose a provider", field="provider_id")
        if not values["provider_plan_id"]:
            raise ValidationFailed("Enter the provider's plan id", field="provider_plan_id")
        plan = await plan_service.create(
            session,
            subject.actor,
            settings=runtime.settings,
            provider_id=provider_id,
            provider_plan_id=values["provider_plan_id"],
            base_price=_money(form, "base_price"),
            markup_price=_money(form, "markup_price"),
            specifications=None,
            active=True,
        )
    except StellwerkError as error:
        return await _plans_page(
            request, session, errors=field_errors(error), values=values, status_code=422
        )
    return _back("/ui/plans", f"Added plan {plan.provider_plan_id}.")


@router.post("/ui/plans/{plan_id}")
async def update_plan(
    plan_id: uuid.UUID, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    form = await read_form(request)
    plan = await plan_service.get(session, plan_id)
    try:
        await plan_service.update(
            session,
            subject.actor,
            plan,
            base_price=_money(form, "base_price"),
            markup_price=_money(form, "markup_price"),
            active=checked(form, "active"),
        )
    except StellwerkError as error:
        return _back("/ui/plans", f"Not saved: {error.message}")
    return _back("/ui/plans", f"Saved plan {plan.provider_plan_id}.")


# --- servers ----------------------------------------------------------------------------------


async def _server_rows(
    session: SessionDep, subject: AuthSubject, page: int
) -> tuple[Any, Page[VpsInstance]]:
    params = page_params(page)
    rows, total = await instance_service.list(session, subject.principal, params=params)
    return rows, Page.of(rows, total=total, params=params)


@router.get("/ui/servers", response_class=HTMLResponse)
async def servers(
    request: Request, subject: WebServerReader, session: SessionDep, page: int = 1
) -> Response:
    rows, paged = await _server_rows(session, subject, page)
    return render(
        request,
        "server/list.html",
        {
            "servers": rows,
            "page": paged,
            "settling": any(s.status in SETTLING for s in rows),
            "current_page": paged.page,
        },
    )


@router.get("/ui/servers/rows", response_class=HTMLResponse)
async def server_rows(
    request: Request, subject: WebServerReader, session: SessionDep, page: int = 1
) -> Response:
    """The list's live part: polled while any server is still changing state."""
    rows, paged = await _server_rows(session, subject, page)
    return render(
        request,
        "server/_rows.html",
        {
            "servers": rows,
            "page": paged,
            "settling": any(s.status in SETTLING for s in rows),
            "current_page": paged.page,
        },
    )


async def _catalog(
    session: SessionDep, subject: AuthSubject, provider: ServiceProvider, runtime: Runtime
) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Regions, sizes and images from the catalog cache (sizes as `subject` may order them);
    an error message if the provider fails."""
    catalog: dict[str, list[dict[str, Any]]] = {}
    try:
        for kind in ("regions", "images"):
            catalog[kind] = await catalog_service.of(provider, settings=runtime.settings, kind=kind)
        catalog["plans"] = await catalog_service.sizes(
            session, provider, settings=runtime.settings, with_costs=sees_costs(subject)
        )
    except StellwerkError as error:
        return {}, error.message
    catalog["regions"] = [r for r in catalog["regions"] if r.get("available", True)]
    catalog["plans"] = [p for p in catalog["plans"] if p.get("available", True)]
    return catalog, None


async def _new_server_page(
    request: Request,
    subject: AuthSubject,
    session: SessionDep,
    runtime: Runtime,
    *,
    provider_id: str | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    providers = [p for p in await provider_service.list(session) if p.active]
    chosen = next((p for p in providers if str(p.id) == provider_id), None)
    if chosen is None and providers:
        chosen = providers[0]
    catalog, catalog_error = (
        ({}, None) if chosen is None else await _catalog(session, subject, chosen, runtime)
    )
    return render(
        request,
        "server/new.html",
        {
            "providers": providers,
            "provider": chosen,
            "catalog": catalog,
            "catalog_error": catalog_error,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/servers/new", response_class=HTMLResponse)
async def new_server(
    request: Request,
    subject: WebServerWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    provider_id: str | None = None,
) -> Response:
    return await _new_server_page(request, subject, session, runtime, provider_id=provider_id)


@router.get("/ui/servers/catalog", response_class=HTMLResponse)
async def catalog_fields(
    request: Request,
    subject: WebServerWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    provider_id: str | None = None,
) -> Response:
    """The region, size and image dropdowns for one provider, swapped in when it changes."""
    parsed = _uuid_or_none(provider_id or "")
    provider = await provider_service.get(session, parsed) if parsed else None
    catalog, catalog_error = (
        ({}, None) if provider is None else await _catalog(session, subject, provider, runtime)
    )
    return render(
        request,
        "server/_catalog.html",
        {
            "provider": provider,
            "catalog": catalog,
            "catalog_error": catalog_error,
            "values": {},
            "errors": {},
        },
    )


@router.post("/ui/servers", response_class=HTMLResponse)
async def create_server(
    request: Request, subject: WebServerWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    names = ("provider_id", "label", "region", "type", "image", "tags", "sshKeys", "user_data")
    # The root password is never put back into the form, not even after an error.
    values = {name: text(form, name) for name in names}
    values["backups"] = "on" if checked(form, "backups") else ""
    body: dict[str, Any] = {
        "provider_id": _uuid_or_none(values["provider_id"]),
        "label": values["label"],
        "region": values["region"],
        "type": values["type"],
        "image": values["image"],
        "backups": checked(form, "backups"),
        "ipv6": True,
        "tags": [t.strip() for t in values["tags"].split(",") if t.strip()],
        "sshKeys": [line.strip() for line in values["sshKeys"].splitlines() if line.strip()],
        "rootPassword": _password(form),
        "user_data": values["user_data"] or None,
    }
    try:
        if body["provider_id"] is None:
            raise ValidationFailed("Choose a provider", field="provider_id")
        if len(body["sshKeys"]) > MAX_SSH_KEYS:
            raise ValidationFailed(f"Enter at most {MAX_SSH_KEYS} SSH keys", field="sshKeys")
        if len(values["user_data"]) > MAX_USER_DATA:
            raise ValidationFailed("User data is at most 64 KiB", field="user_data")
        instance, _ = await instance_service.create(
            session,
            subject.actor,
            subject.user,
            settings=runtime.settings,
            body=body,
            rules=order_rules(subject, runtime.settings),
        )
    except StellwerkError as error:
        return await _new_server_page(
            request,
            subject,
            session,
            runtime,
            provider_id=values["provider_id"],
            values=values,
            errors=field_errors(error),
            status_code=422,
        )
    return _back(f"/ui/servers/{instance.id}", f"Creating {instance.label}.")


async def _detail_context(
    session: SessionDep, instance: VpsInstance, *, runtime: Runtime, refresh: bool
) -> dict[str, Any]:
    if refresh:
        instance = await instance_service.refresh(session, instance, settings=runtime.settings)
    operation = None
    if instance.operation_id is not None:
        try:
            # The server was found for this viewer; its creation belongs with it.
            operation = await operation_service.get(
                session, Principal.system(), instance.operation_id
            )
        except StellwerkError:
            operation = None
    operation_done = operation is None or operation.status in FINISHED
    return {
        "server": instance,
        "operation": operation,
        "operation_done": operation_done,
        "settling": instance.status in SETTLING or not operation_done,
        "actions": [
            (action, ACTION_LABELS[action], confirmation(action, instance))
            for action in actions_for(instance)
        ],
    }


@router.get("/ui/servers/{instance_id}", response_class=HTMLResponse)
async def server_detail(
    instance_id: uuid.UUID,
    request: Request,
    subject: WebServerReader,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    instance = await _instance(session, subject, instance_id)
    context = await _detail_context(session, instance, runtime=runtime, refresh=False)
    return render(request, "server/detail.html", context)


@router.get("/ui/servers/{instance_id}/status", response_class=HTMLResponse)
async def server_status(
    instance_id: uuid.UUID,
    request: Request,
    subject: WebServerReader,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """The live part of the server page; asks the provider while the server settles."""
    instance = await _instance(session, subject, instance_id)
    refresh = instance.status in SETTLING and instance.provider_instance_id is not None
    context = await _detail_context(session, instance, runtime=runtime, refresh=refresh)
    return render(request, "server/_status.html", context)


@router.post("/ui/servers/{instance_id}/action")
async def server_action(
    instance_id: uuid.UUID,
    request: Request,
    subject: WebServerWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form = await read_form(request)
    action = text(form, "action")
    instance = await _instance(session, subject, instance_id)
    target = f"/ui/servers/{instance_id}"
    try:
        await instance_service.action(
            session, subject.actor, instance, settings=runtime.settings, action=action
        )
    except StellwerkError as error:
        return _back(target, f"{ACTION_LABELS.get(action, action)} failed: {error.message}")
    if action == "delete":
        return _back("/ui/servers", f"Deleted {instance.label}.")
    return _back(target, f"{ACTION_LABELS.get(action, action)}: sent to {instance.label}.")
