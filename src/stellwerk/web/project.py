"""Pages for projects: the list, the create form, and one project with its provisioning's live
progress, DNS records, Coolify uuids and the actions the projects API offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stellwerk.database import SessionDep
from stellwerk.exceptions import Forbidden, StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.kit.pagination import Page
from stellwerk.models import Operation, Project
from stellwerk.operation.workflow import FINISHED
from stellwerk.project.service import ACTION_STATES, STATES, project_service
from stellwerk.project.workflow import PROGRESS, STEPS
from stellwerk.provider import connect
from stellwerk.provider.paas.base import PaasServer
from stellwerk.registrar.auth import BUY_REFUSED
from stellwerk.runtime import Runtime
from stellwerk.web.auth import WebAccess
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

WebProjectsReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:projects"))]
WebProjectsWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:projects"))]

router = APIRouter(include_in_schema=False)

ACTION_LABELS = {
    "retry": "Retry",
    "suspend": "Suspend",
    "resume": "Resume",
    "archive": "Archive",
    "redeploy": "Redeploy",
    "restart": "Restart",
    "stop": "Stop",
    "start": "Start",
    "delete": "Delete",
}
# What each state allows, as the service enforces it (redeploy and delete have forms of their
# own on the page).
ACTIONS_BY_STATE = {
    "error": ("retry", "archive"),
    "active": ("restart", "stop", "suspend", "archive"),
    "stopped": ("start",),
    "suspended": ("resume", "archive"),
    "draft": ("archive",),
}
OPERATION_TITLES = {
    "project.provision": "Provisioning",
    "project.redeploy": "Redeploying",
    "project.restart": "Restarting",
    "project.stop": "Stopping",
    "project.start": "Starting",
    "project.edit": "Applying changes",
    "project.delete": "Deleting",
}
FORM_FIELDS = ("name", "domain", "plugins", "server_uuid", "dns_provider")


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _settling(project: Project, operation: Operation | None) -> bool:
    return project.state == "provisioning" or (
        operation is not None and operation.status not in FINISHED
    )


async def _rows_context(
    session: SessionDep, subject: AuthSubject, page: int, state: str | None
) -> dict[str, Any]:
    params = page_params(page)
    state = state if state in STATES else None
    rows, total = await project_service.list(session, subject.principal, params=params, state=state)
    operations = await project_service.operations(session, rows)
    base = "/ui/projects" + (f"?state={state}" if state else "")
    return {
        "projects": rows,
        "operations": operations,
        "page": Page.of(rows, total=total, params=params),
        "settling": any(_settling(p, operations.get(p.operation_id)) for p in rows),
        "state": state,
        "states": STATES,
        "base": base,
        "rows_url": f"/ui/projects/rows?page={max(1, page)}" + (f"&state={state}" if state else ""),
    }


@router.get("/ui/projects", response_class=HTMLResponse)
async def projects(
    request: Request,
    subject: WebProjectsReader,
    session: SessionDep,
    page: int = 1,
    state: str | None = None,
) -> Response:
    return render(request, "project/list.html", await _rows_context(session, subject, page, state))


@router.get("/ui/projects/rows", response_class=HTMLResponse)
async def project_rows(
    request: Request,
    subject: WebProjectsReader,
    session: SessionDep,
    page: int = 1,
    state: str | None = None,
) -> Response:
    """The list's live part: polled while a project is still being provisioned."""
    return render(request, "project/_rows.html", await _rows_context(session, subject, page, state))


async def _new_project_page(
    request: Request,
    runtime: Runtime,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    servers: Sequence[PaasServer] = ()
    servers_error = None
    try:
        servers = await project_service.servers(runtime.settings)
    except StellwerkError as error:
        servers_error = error.message
    return render(
        request,
        "project/new.html",
        {
            "servers": servers,
            "servers_error": servers_error,
            "dns_providers": connect.dns_providers(),
            "buy_refused": BUY_REFUSED,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/projects/new", response_class=HTMLResponse)
async def new_project(request: Request, _: WebProjectsReader, runtime: RuntimeDep) -> Response:
    return await _new_project_page(request, runtime)


@router.post("/ui/projects", response_class=HTMLResponse)
async def create_project(
    request: Request, subject: WebProjectsWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    values = {name: text(form, name) for name in FORM_FIELDS}
    register_domain = checked(form, "register_domain")
    if register_domain and not subject.owner_is_admin:
        # Buying the domain charges the registrar account: admins only, as on /ui/domains.
        raise Forbidden(BUY_REFUSED, code="admin_only")
    if values["server_uuid"] and not subject.has("read:providers"):
        raise Forbidden("Choosing the Coolify server is for the company's staff", code="staff_only")
    try:
        if not values["name"]:
            raise ValidationFailed("Enter a name", field="name")
        if not values["domain"]:
            raise ValidationFailed("Enter a domain", field="domain")
        if len(values["server_uuid"]) > 64:
            raise ValidationFailed("A server uuid has at most 64 characters", field="server_uuid")
        project, _ = await project_service.create(
            session,
            subject.actor,
            subject.principal,
            name=values["name"],
            domain=values["domain"],
            plugins=[values["plugins"]],
            known_plugins=runtime.settings.project_plugin_list,
            server_uuid=values["server_uuid"] or None,
            register_domain=register_domain,
            dns_provider=values["dns_provider"] or None,
        )
    except StellwerkError as error:
        values["register_domain"] = "on" if register_domain else ""
        return await _new_project_page(
            request, runtime, values=values, errors=field_errors(error), status_code=422
        )
    return _back(f"/ui/projects/{project.id}", f"Provisioning {project.name}.")


def step_states(project: Project, operation: Operation | None) -> list[tuple[str, str]]:
    """Each provisioning step's label and whether it is done, current, failed or pending."""
    progress = operation.progress if operation is not None else 0
    finished = operation is not None and operation.status == "completed"
    started = [s for s in STEPS if PROGRESS[s][0] <= progress]
    current = started[-1] if started and not finished else None
    states: list[tuple[str, str]] = []
    for step in STEPS:
        label = PROGRESS[step][1]
        if project.state == "error" and step == project.error_step:
            states.append((label, "failed"))
        elif finished or (step in started and step != current):
            states.append((label, "done"))
        elif step == current and project.state == "provisioning":
            states.append((label, "current"))
        else:
            states.append((label, "pending"))
    return states


async def _detail_context(session: SessionDep, project: Project) -> dict[str, Any]:
    operations = await project_service.operations(session, [project])
    operation = operations.get(project.operation_id)
    return {
        "project": project,
        "operation": operation,
        "settling": _settling(project, operation),
        "steps": step_states(project, operation),
        "actions": ACTIONS_BY_STATE.get(project.state, ()),
        "labels": ACTION_LABELS,
        "operation_title": OPERATION_TITLES.get(operation.kind, "Operation")
        if operation is not None
        else "",
        "provisioning": operation is None or operation.kind == "project.provision",
        "may_redeploy": project.state in ACTION_STATES["redeploy"],
        "may_edit": project.state in ACTION_STATES["edit"],
        "may_delete": project.state in ACTION_STATES["delete"],
    }


@router.get("/ui/projects/{project_id}", response_class=HTMLResponse)
async def project_detail(
    project_id: int, request: Request, subject: WebProjectsReader, session: SessionDep
) -> Response:
    project = await project_service.get(session, subject.principal, project_id)
    return render(request, "project/detail.html", await _detail_context(session, project))


@router.get("/ui/projects/{project_id}/status", response_class=HTMLResponse)
async def project_status(
    project_id: int, request: Request, subject: WebProjectsReader, session: SessionDep
) -> Response:
    """The live part of the project page, fetched again until provisioning has finished."""
    project = await project_service.get(session, subject.principal, project_id)
    return render(request, "project/_status.html", await _detail_context(session, project))


@router.post("/ui/projects/{project_id}/action")
async def project_action(
    project_id: int,
    request: Request,
    subject: WebProjectsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form = await read_form(request)
    action = text(form, "action")
    project = await project_service.get(session, subject.principal, project_id)
    target = f"/ui/projects/{project_id}"
    label = ACTION_LABELS.get(action, action)
    settings = runtime.settings
    try:
        if action == "retry":
            await project_service.retry(session, subject.actor, project)
        elif action == "suspend":
            await project_service.suspend(session, settings, subject.actor, project)
        elif action == "resume":
            await project_service.resume(session, settings, subject.actor, project)
        elif action == "archive":
            await project_service.archive(session, settings, subject.actor, project)
        elif action == "restart":
            await project_service.restart(session, subject.actor, project)
        elif action == "stop":
            await project_service.stop(session, subject.actor, project)
        elif action == "start":
            await project_service.start_app(session, subject.actor, project)
        elif action == "redeploy":
            await project_service.redeploy(
                session,
                subject.actor,
                project,
                branch=text(form, "branch") or None,
                commit=text(form, "commit") or None,
            )
        elif action == "delete":
            operation = await project_service.delete(
                session, subject.actor, project, delete_zone=checked(form, "delete_zone")
            )
            # The project is gone once the operation completed: follow the operation.
            return _back(
                f"/ui/operations/{operation.id}",
                f"Deleting {project.name}; its domain registration is kept.",
            )
        else:
            raise ValidationFailed(f"There is no action {action!r}", field="action")
    except StellwerkError as error:
        return _back(target, f"{label} failed: {error.message}")
    messages = {
        "retry": f"Provisioning {project.name} again from the failed step.",
        "suspend": f"{project.name} is suspended.",
        "resume": f"{project.name} runs again.",
        "archive": f"{project.name} is archived; its domain is kept.",
        "restart": f"Restarting {project.name}.",
        "stop": f"Stopping {project.name}.",
        "start": f"Starting {project.name}.",
        "redeploy": f"Redeploying {project.name}.",
    }
    return _back(target, messages[action])


@router.post("/ui/projects/{project_id}/edit")
async def project_edit(
    project_id: int,
    request: Request,
    subject: WebProjectsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Plugins (comma-separated), further domains (comma-separated) and environment variables
    (`KEY=value` lines set a variable, `-KEY` lines remove one)."""
    form = await read_form(request)
    project = await project_service.get(session, subject.principal, project_id)
    target = f"/ui/projects/{project_id}"
    variables: dict[str, str | None] = {}
    for line in text(form, "env").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("-"):
            variables[line[1:].strip()] = None
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return _back(target, f"Edit failed: {line!r} is not KEY=value or -KEY")
        variables[key.strip()] = value
    domains = [d.strip() for d in text(form, "domains").split(",") if d.strip()]
    try:
        await project_service.edit(
            session,
            runtime.settings,
            subject.actor,
            project,
            plugins=text(form, "plugins").split(","),
            env=variables or None,
            domains=domains,
        )
    except StellwerkError as error:
        return _back(target, f"Edit failed: {error.message}")
    return _back(target, f"Applying the changes to {project.name}.")
