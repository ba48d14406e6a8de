"""HTTP for the module manager: repositories, catalog, instances, operations, legacy routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from stellwerk.database import SessionDep
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.module.auth import (
    ModulesAdmin,
    ModulesReader,
    ModulesWriter,
    answerable_owner,
    visible_owner,
)
from stellwerk.module.pins import module_pin
from stellwerk.module.schemas import (
    AnswerRequest,
    CatalogResponse,
    InstallInstanceRequest,
    InstanceLogs,
    LegacyModule,
    LegacyModulesResponse,
    ModuleInstanceRead,
    ModuleInstancesResponse,
    OperationResponse,
    PinRead,
    RepositoryCreate,
    RepositoryInstallRequest,
    RepositoryListResponse,
    RepositoryRead,
    RepositoryUpdate,
    UpdateRequest,
    UpdatesCheckResponse,
)
from stellwerk.module.service import catalog, module_instance, module_repository
from stellwerk.module.updates import module_update
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["modules"], responses=error_responses(Surface.GENERIC))

MODULES_STATUS = "/modules/status"
REPOSITORY_STATUS = "/repository/install/status"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request safely: the same key returns the same operation",
    ),
]


# --- repositories --------------------------------------------------------------------------------


@router.get("/repository/list", response_model=RepositoryListResponse)
async def list_repositories_with_stats(
    _: ModulesReader, session: SessionDep, runtime: RuntimeDep
) -> RepositoryListResponse:
    """Every enabled repository with its modules and statistics."""
    return await catalog.repositories(session, runtime.settings)


@router.get("/repository/modules", response_model=CatalogResponse)
async def list_available_modules(
    _: ModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    repository: Annotated[str | None, Query(max_length=64, description="A repository id")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    installed: Annotated[bool | None, Query(description="Only (not) installed modules")] = None,
) -> CatalogResponse:
    """Modules the repositories offer, optionally filtered."""
    return await catalog.modules(
        session,
        runtime.settings,
        repository_id=repository,
        category=category,
        search=search,
        installed=installed,
    )


@router.post(
    "/repository/install", response_model=OperationResponse, status_code=status.HTTP_202_ACCEPTED
)
async def install_from_repository(
    body: RepositoryInstallRequest,
    subject: ModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> OperationResponse:
    """Install a module (a new instance) from a repository, in the background."""
    operation = await module_instance.start_install(
        session,
        runtime.settings,
        subject.actor,
        module_name=body.module_name,
        repository_id=body.repository_id,
        version=body.version,
        idempotency_key=idempotency_key,
    )
    return module_instance.response(operation, status_prefix=REPOSITORY_STATUS)


@router.get("/repository/install/status/{operation_id}", response_model=OperationResponse)
async def repository_install_status(
    operation_id: str, subject: ModulesReader, session: SessionDep
) -> OperationResponse:
    """Progress of an installation (yours, or anyone's for admins)."""
    operation = await module_instance.operation(
        session, operation_id, owner_user_id=visible_owner(subject)
    )
    return await module_instance.respond(session, operation, status_prefix=REPOSITORY_STATUS)


@router.delete(
    "/repository/uninstall/{module_id}",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def uninstall_module(
    module_id: str, subject: ModulesWriter, session: SessionDep
) -> OperationResponse:
    """Remove every instance of a module, with its files and services."""
    operation = await module_instance.start_uninstall(session, subject.actor, module_id)
    return module_instance.response(operation, status_prefix=MODULES_STATUS)


@router.get("/repository/repositories", response_model=Page[RepositoryRead])
async def list_repository_configs(
    _: ModulesReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[RepositoryRead]:
    """Configured repositories (enabled or not), by priority."""
    rows, total = await module_repository.list(session, params=params)
    return Page.of([RepositoryRead.model_validate(r) for r in rows], total=total, params=params)


@router.post(
    "/repository/repositories", response_model=RepositoryRead, status_code=status.HTTP_201_CREATED
)
async def create_repository_config(
    body: RepositoryCreate, subject: ModulesAdmin, session: SessionDep
) -> RepositoryRead:
    """Add a repository (admins): `https` (an index URL) or `file` (a directory). An https
    URL whose host resolves to a loopback or private address needs `allow_private`."""
    repository = await module_repository.create(session, subject.actor, body)
    return RepositoryRead.model_validate(repository)


@router.get("/repository/repositories/{repository_id}", response_model=RepositoryRead)
async def get_repository_config(
    repository_id: str, _: ModulesReader, session: SessionDep
) -> RepositoryRead:
    return RepositoryRead.model_validate(await module_repository.get(session, repository_id))


@router.put("/repository/repositories/{repository_id}", response_model=RepositoryRead)
async def update_repository_config(
    repository_id: str, body: RepositoryUpdate, subject: ModulesAdmin, session: SessionDep
) -> RepositoryRead:
    """Change a repository (admins)."""
    repository = await module_repository.get(session, repository_id)
    updated = await module_repository.update(session, subject.actor, repository, body)
    return RepositoryRead.model_validate(updated)


@router.delete("/repository/repositories/{repository_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_repository_config(
    repository_id: str, subject: ModulesAdmin, session: SessionDep
) -> Response:
    """Remove a repository (admins); installed instances stay, its pins stay."""
    repository = await module_repository.get(session, repository_id)
    await module_repository.delete(session, subject.actor, repository)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/repository/repositories/{repository_id}/refresh", response_model=RepositoryRead)
async def refresh_repository_index(
    repository_id: str, _: ModulesWriter, session: SessionDep, runtime: RuntimeDep
) -> RepositoryRead:
    """Read the repository's index now, past the cache; `last_error` tells how it went."""
    repository = await module_repository.get(session, repository_id)
    refreshed = await module_repository.refresh(session, runtime.settings, repository)
    return RepositoryRead.model_validate(refreshed)


@router.get("/repository/pins", response_model=Page[PinRead])
async def list_pins(
    _: ModulesReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    repository_id: Annotated[str | None, Query(max_length=64)] = None,
    module_name: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[PinRead]:
    """Pinned archive checksums: what each module version's archive was when first trusted."""
    rows, total = await module_pin.list(
        session, params=params, repository_id=repository_id, module_name=module_name
    )
    return Page.of([PinRead.model_validate(r) for r in rows], total=total, params=params)


@router.delete(
    "/repository/pins/{repository_id}/{module_name}/{version}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def clear_pin(
    repository_id: str, module_name: str, version: str, subject: ModulesAdmin, session: SessionDep
) -> Response:
    """Forget a pin (admins): the next install of that version trusts the archive it gets."""
    pin = await module_pin.get(session, repository_id, module_name, version)
    await module_pin.clear(session, subject.actor, pin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- module management ---------------------------------------------------------------------------


@router.post(
    "/modules/install-instance",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def install_instance(
    body: InstallInstanceRequest,
    subject: ModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> OperationResponse:
    """Install a new instance of a module (newest version of the first repository with it)."""
    operation = await module_instance.start_install(
        session,
        runtime.settings,
        subject.actor,
        module_name=body.module_name,
        repository_id=body.repository_id,
        version=body.version,
        idempotency_key=idempotency_key,
    )
    return module_instance.response(operation, status_prefix=MODULES_STATUS)


@router.post(
    "/modules/update", response_model=OperationResponse, status_code=status.HTTP_202_ACCEPTED
)
async def update_module(
    body: UpdateRequest,
    subject: ModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> OperationResponse:
    """Update one instance, or all instances, to a version; unhealthy updates roll back.

    Without `version`, the newest (pre-releases only with `prereleases`). Without
    `repository_id`, from the repository the instances came from: a newer version that only
    another repository offers is refused with 409 `update_in_other_repository` naming it, and
    installed when the request names that repository (the instances then come from it). An
    update that crosses a major version waits for `major_update` to be answered (or takes it
    from `answers`)."""
    operation = await module_instance.start_update(
        session,
        runtime.settings,
        subject.actor,
        module_name=body.module_name,
        instance_id=body.instance_id,
        version=body.version,
        repository_id=body.repository_id,
        prereleases=body.prereleases,
        answers=body.answers,
        idempotency_key=idempotency_key,
    )
    return module_instance.response(operation, status_prefix=MODULES_STATUS)


@router.get("/modules/updates/check", response_model=UpdatesCheckResponse)
async def check_updates(
    _: ModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    module_name: Annotated[str | None, Query(max_length=64, description="Only this module")] = None,
    prereleases: Annotated[bool, Query(description="Count pre-releases as updates")] = False,
    refresh: Annotated[
        bool,
        Query(description="Read the repositories now (the default), or use their cached indexes"),
    ] = True,
) -> UpdatesCheckResponse:
    """For each installed module, the newest version every enabled repository offers, and
    whether installing it needs `repository_id` (it is not where the instances came from)."""
    return await module_update.check(
        session,
        runtime.settings,
        module_name=module_name,
        prereleases=prereleases,
        refresh=refresh,
    )


@router.get("/modules/status/{operation_id}", response_model=OperationResponse)
async def operation_status(
    operation_id: str, subject: ModulesReader, session: SessionDep
) -> OperationResponse:
    """Status and progress of a module operation, with the questions it waits on (`prompts`,
    while `waiting`)."""
    operation = await module_instance.operation(
        session, operation_id, owner_user_id=visible_owner(subject)
    )
    return await module_instance.respond(session, operation, status_prefix=MODULES_STATUS)


@router.post("/modules/status/{operation_id}/answer", response_model=OperationResponse)
async def answer_operation(
    operation_id: str, body: AnswerRequest, subject: ModulesWriter, session: SessionDep
) -> OperationResponse:
    """Answer the question a `waiting` module operation asks: yours (any, for admins). It
    goes on once the answer is stored; unanswered by `expires_at`, it fails."""
    operation = await module_instance.operation(
        session, operation_id, owner_user_id=answerable_owner(subject)
    )
    operation = await module_instance.answer(
        session, subject.actor, operation, answer=body.answer, prompt_id=body.prompt_id
    )
    return await module_instance.respond(session, operation, status_prefix=MODULES_STATUS)


# --- instances ----------------------------------------------------------------------------------


@router.get("/modules/instances", response_model=ModuleInstancesResponse)
async def list_instances(
    _: ModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    module_name: Annotated[str | None, Query(max_length=64)] = None,
) -> ModuleInstancesResponse:
    """Every instance, grouped by module, with its live status."""
    return await module_instance.list(session, runtime.settings, module_name=module_name)


@router.get("/modules/instance/{module_name}/{instance_id}", response_model=ModuleInstanceRead)
async def get_instance(
    module_name: str, instance_id: str, _: ModulesReader, session: SessionDep, runtime: RuntimeDep
) -> ModuleInstanceRead:
    instance = await module_instance.get(session, module_name, instance_id)
    return await module_instance.read_one(runtime.settings, instance)


@router.get("/modules/instance/{module_name}/{instance_id}/logs", response_model=InstanceLogs)
async def instance_logs(
    module_name: str,
    instance_id: str,
    _: ModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    lines: Annotated[int, Query(ge=1, le=5000, description="How many of the last lines")] = 100,
    after: Annotated[
        str | None,
        Query(max_length=64, description="A `cursor` from an earlier answer: only newer lines"),
    ] = None,
) -> InstanceLogs:
    """The instance's output (stdout and stderr), oldest line first. To follow it, ask again
    with `after` set to the last answer's `cursor`."""
    instance = await module_instance.get(session, module_name, instance_id)
    return await module_instance.logs(runtime.settings, instance, lines=lines, after=after)


@router.delete(
    "/modules/instance/{module_name}/{instance_id}",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def delete_instance(
    module_name: str,
    instance_id: str,
    subject: ModulesWriter,
    session: SessionDep,
    new_primary: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Removing the primary instance: the instance that becomes primary",
        ),
    ] = None,
) -> OperationResponse:
    """Stop and remove an instance and its files. Removing the primary instance of a module
    with several others waits for the question `new_primary` (which one becomes primary),
    unless `new_primary` names it; with one other instance, that one becomes primary."""
    instance = await module_instance.get(session, module_name, instance_id)
    operation = await module_instance.start_remove(
        session, subject.actor, instance, new_primary=new_primary
    )
    return module_instance.response(operation, status_prefix=MODULES_STATUS)


async def _lifecycle(
    module_name: str, instance_id: str, action: str, subject: AuthSubject, session: SessionDep
) -> OperationResponse:
    instance = await module_instance.get(session, module_name, instance_id)
    operation = await module_instance.start_lifecycle(session, subject.actor, instance, action)
    return module_instance.response(operation, status_prefix=MODULES_STATUS)


@router.post(
    "/modules/instance/{module_name}/{instance_id}/stop",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def stop_instance(
    module_name: str, instance_id: str, subject: ModulesWriter, session: SessionDep
) -> OperationResponse:
    """Stop an instance (its files stay); its status becomes `stopped`."""
    return await _lifecycle(module_name, instance_id, "stop", subject, session)


@router.post(
    "/modules/instance/{module_name}/{instance_id}/start",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def start_instance(
    module_name: str, instance_id: str, subject: ModulesWriter, session: SessionDep
) -> OperationResponse:
    """Start a stopped instance and wait until it is healthy (`running`, else `error`)."""
    return await _lifecycle(module_name, instance_id, "start", subject, session)


@router.post(
    "/modules/instance/{module_name}/{instance_id}/restart",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def restart_instance(
    module_name: str, instance_id: str, subject: ModulesWriter, session: SessionDep
) -> OperationResponse:
    """Stop and start an instance again."""
    return await _lifecycle(module_name, instance_id, "restart", subject, session)


@router.get("/modules/primary/{module_name}", response_model=ModuleInstanceRead)
async def get_primary_instance(
    module_name: str, _: ModulesReader, session: SessionDep, runtime: RuntimeDep
) -> ModuleInstanceRead:
    instance = await module_instance.primary(session, module_name)
    return await module_instance.read_one(runtime.settings, instance)


@router.post("/modules/primary/{module_name}/{instance_id}", response_model=ModuleInstanceRead)
async def set_primary_instance(
    module_name: str,
    instance_id: str,
    subject: ModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ModuleInstanceRead:
    instance = await module_instance.get(session, module_name, instance_id)
    instance = await module_instance.set_primary(session, subject.actor, instance)
    return await module_instance.read_one(runtime.settings, instance)


# --- legacy (deprecated) ------------------------------------------------------------------------


@router.get("/api/modules", response_model=LegacyModulesResponse, deprecated=True)
async def legacy_list_modules(
    _: ModulesReader, session: SessionDep, runtime: RuntimeDep
) -> LegacyModulesResponse:
    """Installed modules with their primary instance (use `/modules/instances`)."""
    listing = await module_instance.list(session, runtime.settings)
    modules = []
    for group in listing.modules:
        primary = next(
            (i for i in group.instances if i.instance_id == group.primary_instance_id), None
        )
        shown = primary or group.instances[0]
        modules.append(
            LegacyModule(
                name=group.module_name,
                version=shown.version,
                status=shown.status,
                instance_count=len(group.instances),
                primary_instance=primary,
                frontend_url=shown.frontend_url,
            )
        )
    return LegacyModulesResponse(modules=modules)


@router.get("/api/modules/{module_name}", response_model=ModuleInstanceRead, deprecated=True)
async def legacy_get_module(
    module_name: str, _: ModulesReader, session: SessionDep, runtime: RuntimeDep
) -> ModuleInstanceRead:
    """The module's primary instance (use `/modules/primary/{module_name}`)."""
    instance = await module_instance.primary(session, module_name)
    return await module_instance.read_one(runtime.settings, instance)


@router.post(
    "/api/install/{module_name}",
    response_model=OperationResponse,
    status_code=status.HTTP_202_ACCEPTED,
    deprecated=True,
)
async def legacy_install(
    module_name: str,
    subject: ModulesWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> OperationResponse:
    """Install a new instance (use `/modules/install-instance`)."""
    operation = await module_instance.start_install(
        session,
        runtime.settings,
        subject.actor,
        module_name=module_name,
        idempotency_key=idempotency_key,
    )
    return module_instance.response(operation, status_prefix=MODULES_STATUS)
