"""Pages for the module manager: installed instances (with updates, stop, start, restart and
their frontends), available modules, repositories, and the live progress of module operations
with the questions they ask.

The rules are the API's: seeing needs `read:modules`, installing, updating, stopping and deleting
needs `write:modules`, and repositories and checksum pins are for admins. Operations are shown to
the company all; a question is answered by whoever started the operation, or an admin. The pages
follow the module feed (`/ws/module_feed`) and fetch their live parts again when it says
something changed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.models import ModuleRepository, Operation
from stellwerk.module.auth import answerable_owner, visible_owner
from stellwerk.module.pins import module_pin
from stellwerk.module.schemas import RepositoryCreate, RepositoryUpdate
from stellwerk.module.service import catalog, module_instance, module_repository
from stellwerk.module.updates import module_update
from stellwerk.operation.service import operation as operation_service
from stellwerk.operation.workflow import FINISHED
from stellwerk.runtime import Runtime
from stellwerk.web.auth import WebAccess, WebAdmin
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

WebModulesReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:modules"))]
WebModulesWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:modules"))]

router = APIRouter(include_in_schema=False)

OPERATION_LABELS = {
    "module.install": "Install",
    "module.update": "Update",
    "module.remove": "Delete instance",
    "module.uninstall": "Uninstall",
    "module.stop": "Stop instance",
    "module.start": "Start instance",
    "module.restart": "Restart instance",
}
RECENT_OPERATIONS = 5
REPOSITORY_FIELDS = ("id", "name", "type", "url", "description", "priority", "ca_pem")


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _operation_page(operation: Operation, message: str) -> Response:
    return _back(f"/ui/modules/operations/{operation.id}", message)


def _validation_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "_"
        errors.setdefault(field, str(item["msg"]))
    return errors


# --- installed instances ------------------------------------------------------------------------


async def _instances_context(
    subject: AuthSubject, session: SessionDep, runtime: Runtime
) -> dict[str, Any]:
    listing = await module_instance.list(session, runtime.settings)
    # Newest versions from the cached indexes; "Check for updates" reads them again.
    updates = await module_update.check(session, runtime.settings, refresh=False)
    recent, _ = await operation_service.list(
        session,
        subject.principal,
        params=page_params(1, RECENT_OPERATIONS),
        target_type="module",
    )
    return {
        "groups": listing.modules,
        "total": listing.total,
        "updates": {m.module_name: m for m in updates.modules},
        "instance_updates": {
            i.instance_id: i for m in updates.modules for i in m.instances if i.update_available
        },
        "update_errors": updates.errors,
        "operations": recent,
        "labels": OPERATION_LABELS,
        "settling": any(o.status not in FINISHED for o in recent),
    }


@router.get("/ui/modules", response_class=HTMLResponse)
async def modules(
    request: Request, subject: WebModulesReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    context = await _instances_context(subject, session, runtime)
    return render(request, "module/instances.html", context)


@router.get("/ui/modules/live", response_class=HTMLResponse)
async def modules_live(
    request: Request, subject: WebModulesReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The instances page's live part: polled while a module operation runs."""
    context = await _instances_context(subject, session, runtime)
    return render(request, "module/_instances.html", context)


LOG_LINES = (50, 200, 1000)


async def _logs_context(
    session: SessionDep, runtime: Runtime, module_name: str, instance_id: str, lines: int
) -> dict[str, Any]:
    lines = lines if lines in LOG_LINES else LOG_LINES[1]
    instance = await module_instance.get(session, module_name, instance_id)
    error = None
    try:
        logs = await module_instance.logs(runtime.settings, instance, lines=lines)
        text_lines = logs.lines
    except StellwerkError as failure:
        text_lines, error = [], failure.message
    return {
        "instance": instance,
        "lines": text_lines,
        "count": lines,
        "choices": LOG_LINES,
        "error": error,
    }


@router.get("/ui/modules/instances/{module_name}/{instance_id}/logs", response_class=HTMLResponse)
async def instance_logs(
    module_name: str,
    instance_id: str,
    request: Request,
    _: WebModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    lines: int = 200,
    follow: bool = False,
) -> Response:
    """An instance's last lines of output; with `follow`, the page keeps them current."""
    context = await _logs_context(session, runtime, module_name, instance_id, lines)
    return render(request, "module/logs.html", {**context, "follow": follow})


@router.get(
    "/ui/modules/instances/{module_name}/{instance_id}/logs/tail", response_class=HTMLResponse
)
async def instance_logs_tail(
    module_name: str,
    instance_id: str,
    request: Request,
    _: WebModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    lines: int = 200,
) -> Response:
    """The log part of the page, fetched again and again while following."""
    context = await _logs_context(session, runtime, module_name, instance_id, lines)
    return render(request, "module/_logs.html", {**context, "follow": True})


@router.post("/ui/modules/instances/{module_name}/{instance_id}/primary")
async def make_primary(
    module_name: str, instance_id: str, subject: WebModulesWriter, session: SessionDep
) -> Response:
    try:
        instance = await module_instance.get(session, module_name, instance_id)
        await module_instance.set_primary(session, subject.actor, instance)
    except StellwerkError as error:
        return _back("/ui/modules", f"Not changed: {error.message}")
    return _back("/ui/modules", f"Instance {instance_id[:8]} is the primary {module_name}.")


@router.post("/ui/modules/instances/{module_name}/{instance_id}/update")
async def update_instance(
    module_name: str,
    instance_id: str,
    subject: WebModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    try:
        operation = await module_instance.start_update(
            session,
            runtime.settings,
            subject.actor,
            module_name=module_name,
            instance_id=instance_id,
        )
    except StellwerkError as error:
        return _back("/ui/modules", f"Update failed: {error.message}")
    return _operation_page(operation, f"Updating {module_name} instance {instance_id[:8]}.")


async def _lifecycle(
    module_name: str, instance_id: str, action: str, subject: AuthSubject, session: SessionDep
) -> Response:
    try:
        instance = await module_instance.get(session, module_name, instance_id)
        operation = await module_instance.start_lifecycle(session, subject.actor, instance, action)
    except StellwerkError as error:
        return _back("/ui/modules", f"Not done: {error.message}")
    verb = {"stop": "Stopping", "start": "Starting", "restart": "Restarting"}[action]
    return _operation_page(operation, f"{verb} {module_name} instance {instance_id[:8]}.")


@router.post("/ui/modules/instances/{module_name}/{instance_id}/stop")
async def stop_instance(
    module_name: str, instance_id: str, subject: WebModulesWriter, session: SessionDep
) -> Response:
    return await _lifecycle(module_name, instance_id, "stop", subject, session)


@router.post("/ui/modules/instances/{module_name}/{instance_id}/start")
async def start_instance(
    module_name: str, instance_id: str, subject: WebModulesWriter, session: SessionDep
) -> Response:
    return await _lifecycle(module_name, instance_id, "start", subject, session)


@router.post("/ui/modules/instances/{module_name}/{instance_id}/restart")
async def restart_instance(
    module_name: str, instance_id: str, subject: WebModulesWriter, session: SessionDep
) -> Response:
    return await _lifecycle(module_name, instance_id, "restart", subject, session)


@router.post("/ui/modules/instances/{module_name}/update")
async def update_module(
    module_name: str,
    request: Request,
    subject: WebModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Update every instance: from the repository the form names (which the instances then
    come from), else from theirs."""
    form = await read_form(request)
    try:
        operation = await module_instance.start_update(
            session,
            runtime.settings,
            subject.actor,
            module_name=module_name,
            repository_id=text(form, "repository_id") or None,
            version=text(form, "version") or None,
        )
    except StellwerkError as error:
        return _back("/ui/modules", f"Update failed: {error.message}")
    return _operation_page(operation, f"Updating {module_name}.")


@router.post("/ui/modules/check-updates")
async def check_updates(
    subject: WebModulesReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Read every repository's index now and say what is newer."""
    result = await module_update.check(session, runtime.settings, refresh=True)
    found = [f"{m.module_name} {m.latest_version}" for m in result.modules if m.update_available]
    message = f"Updates available: {', '.join(found)}." if found else "Every module is up to date."
    if result.errors:
        message += f" Not readable: {', '.join(sorted(result.errors))}."
    return _back("/ui/modules", message)


@router.post("/ui/modules/instances/{module_name}/{instance_id}/delete")
async def delete_instance(
    module_name: str, instance_id: str, subject: WebModulesWriter, session: SessionDep
) -> Response:
    try:
        instance = await module_instance.get(session, module_name, instance_id)
        operation = await module_instance.start_remove(session, subject.actor, instance)
    except StellwerkError as error:
        return _back("/ui/modules", f"Delete failed: {error.message}")
    return _operation_page(operation, f"Deleting {module_name} instance {instance_id[:8]}.")


# --- available modules ---------------------------------------------------------------------------


@router.get("/ui/modules/available", response_class=HTMLResponse)
async def available(
    request: Request,
    subject: WebModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    repository: str = "",
    category: str = "",
    search: str = "",
    installed: str = "",
) -> Response:
    filters = {
        "repository": repository[:64],
        "category": category[:100],
        "search": search[:200],
        "installed": installed if installed in ("yes", "no") else "",
    }
    repositories, _total = await module_repository.list(session, params=page_params(1, 200))
    error = None
    listing = None
    try:
        listing = await catalog.modules(
            session,
            runtime.settings,
            repository_id=filters["repository"] or None,
            category=filters["category"] or None,
            search=filters["search"] or None,
            installed=None if not filters["installed"] else filters["installed"] == "yes",
        )
    except StellwerkError as failure:
        error = failure.message
    return render(
        request,
        "module/available.html",
        {
            "modules": listing.modules if listing else [],
            "categories": listing.categories if listing else [],
            "errors": listing.errors if listing else {},
            "error": error,
            "repositories": [r for r in repositories if r.enabled],
            "filters": filters,
            "filtered": any(filters.values()),
        },
    )


@router.post("/ui/modules/install")
async def install(
    request: Request, subject: WebModulesWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    module_name = text(form, "module_name")
    try:
        operation = await module_instance.start_install(
            session,
            runtime.settings,
            subject.actor,
            module_name=module_name,
            repository_id=text(form, "repository_id") or None,
            version=text(form, "version") or None,
        )
    except StellwerkError as error:
        return _back("/ui/modules/available", f"Install failed: {error.message}")
    return _operation_page(operation, f"Installing {module_name}.")


# --- operations -----------------------------------------------------------------------------------


async def _operation_context(
    subject: AuthSubject, session: SessionDep, operation_id: uuid.UUID
) -> dict[str, Any]:
    operation = await module_instance.operation(
        session, str(operation_id), owner_user_id=visible_owner(subject)
    )
    prompts = await operation_service.open_prompts(session, [operation])
    owner = answerable_owner(subject)
    may_answer = subject.has("write:modules") and owner in (None, operation.owner_user_id)
    return {
        "operation": operation,
        "events": await operation_service.events(session, operation),
        "finished": operation.status in FINISHED,
        "label": OPERATION_LABELS.get(operation.kind, operation.kind),
        "module_name": str(operation.input.get("module_name", "")),
        "prompts": prompts.get(operation.id, ()),
        "answer_url": f"/ui/modules/operations/{operation.id}/answer" if may_answer else None,
    }


@router.get("/ui/modules/operations/{operation_id}", response_class=HTMLResponse)
async def module_operation(
    operation_id: uuid.UUID, request: Request, subject: WebModulesReader, session: SessionDep
) -> Response:
    context = await _operation_context(subject, session, operation_id)
    return render(request, "module/operation.html", context)


@router.get("/ui/modules/operations/{operation_id}/progress", response_class=HTMLResponse)
async def module_operation_progress(
    operation_id: uuid.UUID, request: Request, subject: WebModulesReader, session: SessionDep
) -> Response:
    """The live part of a module operation's page, fetched until it is final."""
    context = await _operation_context(subject, session, operation_id)
    return render(request, "module/_operation.html", context)


@router.post("/ui/modules/operations/{operation_id}/answer")
async def answer_module_operation(
    operation_id: uuid.UUID, request: Request, subject: WebModulesWriter, session: SessionDep
) -> Response:
    """Answer the question a waiting module operation asks."""
    page = f"/ui/modules/operations/{operation_id}"
    form = await read_form(request)
    try:
        operation = await module_instance.operation(
            session, str(operation_id), owner_user_id=answerable_owner(subject)
        )
        await module_instance.answer(
            session,
            subject.actor,
            operation,
            answer=text(form, "answer"),
            prompt_id=text(form, "prompt_id") or None,
        )
    except StellwerkError as error:
        return _back(page, f"Not answered: {error.message}")
    return _back(page, "Answered; the operation goes on.")


# --- repositories -------------------------------------------------------------------------------


async def _repositories_page(
    request: Request,
    session: SessionDep,
    runtime: Runtime,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows, _total = await module_repository.list(session, params=page_params(1, 200))
    statistics = await catalog.repositories(session, runtime.settings)
    return render(
        request,
        "module/repositories.html",
        {
            "repositories": rows,
            "stats": {s.id: s for s in statistics.repositories},
            "summary": statistics,
            "values": values or {"type": "https", "priority": "100", "enabled": "on"},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/modules/repositories", response_class=HTMLResponse)
async def repositories(
    request: Request, subject: WebModulesReader, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _repositories_page(request, session, runtime)


def _repository_values(form: FormData) -> dict[str, str]:
    values = {name: text(form, name) for name in REPOSITORY_FIELDS}
    for flag in ("enabled", "allow_http", "allow_private"):
        values[flag] = "on" if checked(form, flag) else ""
    return values


def _optional(value: str) -> str | None:
    return value or None


@router.post("/ui/modules/repositories", response_class=HTMLResponse)
async def create_repository(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    values = _repository_values(await read_form(request))
    try:
        body = RepositoryCreate.model_validate(
            {
                "id": values["id"],
                "name": values["name"],
                "type": values["type"],
                "url": values["url"],
                "description": _optional(values["description"]),
                "priority": values["priority"] or "100",
                "enabled": bool(values["enabled"]),
                "allow_http": bool(values["allow_http"]),
                "allow_private": bool(values["allow_private"]),
                "ca_pem": _optional(values["ca_pem"]),
            }
        )
    except ValidationError as error:
        return await _repositories_page(
            request,
            session,
            runtime,
            values=values,
            errors=_validation_errors(error),
            status_code=422,
        )
    try:
        repository = await module_repository.create(session, subject.actor, body)
    except StellwerkError as error:
        errors = field_errors(error)
        if error.code == "repository_exists":
            errors = {"id": error.message}
        return await _repositories_page(
            request, session, runtime, values=values, errors=errors, status_code=error.status
        )
    return _back("/ui/modules/repositories", f"Added the repository {repository.name}.")


async def _edit_page(
    request: Request,
    session: SessionDep,
    repository: ModuleRepository,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if values is None:
        values = {
            "name": repository.name,
            "url": repository.url,
            "description": repository.description or "",
            "priority": str(repository.priority),
            "enabled": "on" if repository.enabled else "",
            "allow_http": "on" if repository.allow_http else "",
            "allow_private": "on" if repository.allow_private else "",
        }
    pins, _total = await module_pin.list(
        session, params=page_params(1, 200), repository_id=repository.id
    )
    return render(
        request,
        "module/repository.html",
        {"repository": repository, "values": values, "errors": errors or {}, "pins": pins},
        status_code=status_code,
    )


@router.get("/ui/modules/repositories/{repository_id}", response_class=HTMLResponse)
async def edit_repository(
    repository_id: str, request: Request, subject: WebModulesReader, session: SessionDep
) -> Response:
    repository = await module_repository.get(session, repository_id)
    return await _edit_page(request, session, repository)


@router.post("/ui/modules/repositories/{repository_id}", response_class=HTMLResponse)
async def update_repository(
    repository_id: str, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    repository = await module_repository.get(session, repository_id)
    values = _repository_values(await read_form(request))
    changes: dict[str, Any] = {
        "name": values["name"],
        "description": _optional(values["description"]),
        "priority": values["priority"] or "100",
        "enabled": bool(values["enabled"]),
    }
    if not repository.builtin:
        # The built-in repository's location is fixed; its form does not offer it.
        changes["url"] = values["url"]
        changes["allow_http"] = bool(values["allow_http"])
        changes["allow_private"] = bool(values["allow_private"])
        if values["ca_pem"]:
            changes["ca_pem"] = values["ca_pem"]
    try:
        body = RepositoryUpdate.model_validate(changes)
        await module_repository.update(session, subject.actor, repository, body)
    except ValidationError as error:
        return await _edit_page(
            request,
            session,
            repository,
            values=values,
            errors=_validation_errors(error),
            status_code=422,
        )
    except StellwerkError as error:
        return await _edit_page(
            request,
            session,
            repository,
            values=values,
            errors=field_errors(error),
            status_code=error.status,
        )
    return _back("/ui/modules/repositories", f"Saved the repository {repository.name}.")


@router.post("/ui/modules/repositories/{repository_id}/refresh")
async def refresh_repository(
    repository_id: str, subject: WebModulesWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    repository = await module_repository.get(session, repository_id)
    refreshed = await module_repository.refresh(session, runtime.settings, repository)
    if refreshed.last_error:
        return _back("/ui/modules/repositories", f"{refreshed.name}: {refreshed.last_error}")
    return _back("/ui/modules/repositories", f"Read the index of {refreshed.name} again.")


@router.post("/ui/modules/repositories/{repository_id}/delete")
async def delete_repository(repository_id: str, subject: WebAdmin, session: SessionDep) -> Response:
    repository = await module_repository.get(session, repository_id)
    name = repository.name
    try:
        await module_repository.delete(session, subject.actor, repository)
    except StellwerkError as error:
        return _back("/ui/modules/repositories", error.message)
    return _back("/ui/modules/repositories", f"Deleted the repository {name}.")


@router.post("/ui/modules/repositories/{repository_id}/pins/{module_name}/{version}/clear")
async def clear_pin(
    repository_id: str, module_name: str, version: str, subject: WebAdmin, session: SessionDep
) -> Response:
    try:
        pin = await module_pin.get(session, repository_id, module_name, version)
        await module_pin.clear(session, subject.actor, pin)
    except StellwerkError as error:
        return _back("/ui/modules/repositories", error.message)
    return _back(
        f"/ui/modules/repositories/{pin.repository_id}",
        f"Cleared the pin of {pin.module_name} {pin.version}.",
    )
