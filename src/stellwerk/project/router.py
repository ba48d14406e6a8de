"""HTTP for projects: `/api/projects...`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, status

from stellwerk.database import SessionDep
from stellwerk.identity.auth import RuntimeDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.models import Operation, Project
from stellwerk.project.auth import ProjectsReader, ProjectsWriter, check_purchases
from stellwerk.project.schemas import (
    DeployLog,
    ProjectCreate,
    ProjectEdit,
    ProjectError,
    ProjectOperation,
    ProjectRead,
    ProjectRedeploy,
)
from stellwerk.project.service import project_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["projects"], responses=error_responses(Surface.GENERIC))
# A redeploy without a body: the same commit again.
_SAME_COMMIT = ProjectRedeploy()


def project_read(project: Project, operation: Operation | None) -> ProjectRead:
    return ProjectRead(
        id=project.id,
        name=project.name,
        domain=project.domain,
        plugins=list(project.plugins),
        domains=list(project.domains),
        env_keys=list(project.env_keys),
        state=project.state,
        register_domain=project.register_domain,
        create_server=project.create_server,
        server_uuid=project.server_uuid,
        server_ip=project.server_ip,
        dns_provider=project.dns_provider,
        dns_records=list(project.dns_records),
        coolify_project_uuid=project.coolify_project_uuid,
        coolify_app_uuid=project.coolify_app_uuid,
        deployment_uuid=project.deployment_uuid,
        live_url=project.live_url,
        error=ProjectError(step=project.error_step, message=project.error_message)
        if project.state == "error"
        else None,
        operation=None
        if operation is None
        else ProjectOperation(
            id=operation.id,
            kind=operation.kind,
            status=operation.status,
            progress=operation.progress,
            message=operation.message,
        ),
        created_at=project.created_at,
        updated_at=project.updated_at,
        activated_at=project.activated_at,
        adopted_at=project.adopted_at,
    )


async def _one(session: SessionDep, project: Project) -> ProjectRead:
    operations = await project_service.operations(session, [project])
    return project_read(project, operations.get(project.operation_id))


@router.post("/api/projects", response_model=ProjectRead, status_code=status.HTTP_202_ACCEPTED)
async def create_project(
    body: ProjectCreate, subject: ProjectsWriter, session: SessionDep, runtime: RuntimeDep
) -> ProjectRead:
    """Create a project and start provisioning it (follow `operation` or poll the project).

    `register_domain: true` buys the domain at the registrar and `create_server: true` a server
    at Hetzner: admins only, as `POST /api/registrar/domains`; anyone else gets 403
    `missing_scope` with `required: admin`. Choosing the Coolify server (`server_uuid`) is for
    the company's staff (`read:providers`)."""
    check_purchases(
        subject,
        register_domain=body.register_domain,
        create_server=body.create_server,
        server_uuid=body.server_uuid,
    )
    project, operation = await project_service.create(
        session,
        subject.actor,
        subject.principal,
        name=body.name,
        domain=body.domain,
        plugins=body.plugins,
        known_plugins=runtime.settings.project_plugin_list,
        server_uuid=body.server_uuid,
        register_domain=body.register_domain,
        create_server=body.create_server,
        dns_provider=body.dns_provider,
    )
    return project_read(project, operation)


@router.get("/api/projects", response_model=Page[ProjectRead])
async def list_projects(
    subject: ProjectsReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    state: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[ProjectRead]:
    rows, total = await project_service.list(session, subject.principal, params=params, state=state)
    operations = await project_service.operations(session, rows)
    return Page.of(
        [project_read(p, operations.get(p.operation_id)) for p in rows],
        total=total,
        params=params,
    )


@router.get("/api/projects/{project_id}", response_model=ProjectRead)
async def show_project(
    project_id: int, subject: ProjectsReader, session: SessionDep
) -> ProjectRead:
    """State, DNS records, Coolify uuids, live URL, and the operation's progress."""
    project = await project_service.get(session, subject.principal, project_id)
    return await _one(session, project)


@router.get("/api/projects/{project_id}/deploy-log", response_model=DeployLog)
async def project_deploy_log(
    project_id: int, subject: ProjectsReader, session: SessionDep
) -> DeployLog:
    """The last deployment's log from Coolify: updated while it deploys, kept afterwards (a
    failed deployment's build log included)."""
    project = await project_service.get(session, subject.principal, project_id)
    return DeployLog(
        project_id=project.id,
        deployment_uuid=project.deployment_uuid,
        state=project.state,
        log=project.deploy_log,
    )


@router.post(
    "/api/projects/{project_id}/retry",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def retry_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep
) -> ProjectRead:
    """Run provisioning again from the failed step."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.retry(session, subject.actor, project)
    return project_read(project, operation)


@router.post("/api/projects/{project_id}/suspend", response_model=ProjectRead)
async def suspend_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep, runtime: RuntimeDep
) -> ProjectRead:
    """Stop the application."""
    project = await project_service.get(session, subject.principal, project_id)
    await project_service.suspend(session, runtime.settings, subject.actor, project)
    return await _one(session, project)


@router.post("/api/projects/{project_id}/resume", response_model=ProjectRead)
async def resume_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep, runtime: RuntimeDep
) -> ProjectRead:
    """Start the application again."""
    project = await project_service.get(session, subject.principal, project_id)
    await project_service.resume(session, runtime.settings, subject.actor, project)
    return await _one(session, project)


@router.post("/api/projects/{project_id}/archive", response_model=ProjectRead)
async def archive_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep, runtime: RuntimeDep
) -> ProjectRead:
    """Remove the application, the Coolify project and the DNS records; keep the domain."""
    project = await project_service.get(session, subject.principal, project_id)
    await project_service.archive(session, runtime.settings, subject.actor, project)
    return await _one(session, project)


@router.post(
    "/api/projects/{project_id}/redeploy",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def redeploy_project(
    project_id: int,
    subject: ProjectsWriter,
    session: SessionDep,
    body: Annotated[ProjectRedeploy, Body()] = _SAME_COMMIT,
) -> ProjectRead:
    """A new Coolify deployment of the same commit, or of `branch` (its head) and/or `commit`;
    follow `operation`."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.redeploy(
        session, subject.actor, project, branch=body.branch, commit=body.commit
    )
    return project_read(project, operation)


@router.post(
    "/api/projects/{project_id}/restart",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def restart_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep
) -> ProjectRead:
    """Restart the application (an operation; follow `operation`)."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.restart(session, subject.actor, project)
    return project_read(project, operation)


@router.post(
    "/api/projects/{project_id}/stop",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def stop_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep
) -> ProjectRead:
    """Stop the application; the project becomes `stopped`."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.stop(session, subject.actor, project)
    return project_read(project, operation)


@router.post(
    "/api/projects/{project_id}/start",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def start_project(
    project_id: int, subject: ProjectsWriter, session: SessionDep
) -> ProjectRead:
    """Start a stopped (or suspended) project's application; it becomes `active`."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.start_app(session, subject.actor, project)
    return project_read(project, operation)


@router.patch(
    "/api/projects/{project_id}",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def edit_project(
    project_id: int,
    body: ProjectEdit,
    subject: ProjectsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ProjectRead:
    """Change plugins, environment variables and further domains; applied through Coolify and
    the DNS by an operation, which deploys a running project again."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.edit(
        session,
        runtime.settings,
        subject.actor,
        project,
        plugins=body.plugins,
        env=body.env,
        domains=body.domains,
    )
    return project_read(project, operation)


@router.delete(
    "/api/projects/{project_id}",
    response_model=ProjectRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def delete_project(
    project_id: int,
    subject: ProjectsWriter,
    session: SessionDep,
    delete_zone: Annotated[bool, Query(description="Delete the domain's DNS zone too")] = False,
) -> ProjectRead:
    """Remove the application, the Coolify project and the DNS records the project created
    (`delete_zone=true`: the whole zone); the domain registration is kept. When the operation
    completed, the project is gone (404)."""
    project = await project_service.get(session, subject.principal, project_id)
    operation = await project_service.delete(
        session, subject.actor, project, delete_zone=delete_zone
    )
    return project_read(project, operation)
