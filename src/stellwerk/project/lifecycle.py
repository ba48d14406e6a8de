"""A project's life after provisioning, each action one durable operation with progress:

redeploy (a new deployment of the same commit, or of a named branch/commit), restart, stop,
start, edit (plugins, environment, further domains: applied through Coolify and the DNS, then
deployed) and delete (application, Coolify project, the DNS records the project created, and on
request the domain's zone; the domain registration is kept).

Every step reads what it should reach from the project row and the providers and does only what
is missing, so a step that runs twice (after a crash or a transient failure, retried 3 times
with backoff like provisioning's) changes nothing the second time. Deployments go through the
same `coolify-deploy` queue as provisioning: one at a time per Coolify instance.
"""

from __future__ import annotations

import logging
from typing import Any

from dbos import DBOS, SetWorkflowID

from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.dns.service import PROJECT_NAMES, setup_project_dns
from stellwerk.models import Project
from stellwerk.operation.context import StepContext, workflow_context
from stellwerk.operation.workflow import OperationContext, operation_workflow, step
from stellwerk.project.workflow import (
    ACTIVE_DEPLOYMENT,
    DEPLOY_QUEUE,
    RETRY,
    StepFailed,
    _ignore_missing,
    _load,
    _message,
    _read,
    _record_json,
    _save,
    follow_deployment,
    remove_resources_of,
    step_app_status,
    step_health,
    step_known_deployments,
)
from stellwerk.provider.paas.base import APP_RUNNING, EnvVar

log = logging.getLogger(__name__)

ACTIONS = ("redeploy", "restart", "stop", "start", "edit", "delete")
KINDS = {action: f"project.{action}" for action in ACTIONS}


def app_domains(domain: str, extra: list[str]) -> list[str]:
    """The URLs the application serves: the domain, its `www`, and the further names."""
    return [f"https://{domain}", f"https://www.{domain}", *(f"https://{h}" for h in extra)]


def relative_names(domain: str, hosts: list[str]) -> list[str]:
    return [h[: -len(domain) - 1] for h in hosts]


# --- steps ----------------------------------------------------------------------------------


@step("project.life.source", **RETRY)
async def step_source(
    ctx: StepContext, project_id: int, branch: str | None, commit: str | None
) -> dict[str, Any]:
    """Point the application at `branch` and/or `commit` (a branch alone follows its head)."""
    if branch is None and commit is None:
        return {"changed": False}
    async with ctx.database.session() as session:
        app_uuid = str((await _load(session, project_id)).coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        await paas.update_application(
            uuid=app_uuid, git_branch=branch, git_commit_sha=commit or "HEAD"
        )
    return {"branch": branch, "commit": commit or "HEAD"}


@step("project.life.begin_action", **RETRY)
async def step_begin_action(
    ctx: StepContext, project_id: int, action: str, known: list[str]
) -> str:
    """Ask Coolify to deploy, start or restart; the deployment it queued. A retry after a lost
    answer follows the deployment that was not there before instead of asking again."""
    app_uuid = str((await _read(ctx, project_id)).coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        fresh = [
            d.uuid
            for d in await paas.list_deployments(app_uuid=app_uuid)
            if d.uuid not in known and d.status in ACTIVE_DEPLOYMENT
        ]
        if fresh:
            deployment_uuid = fresh[0]
        elif action == "restart":
            deployment_uuid = (await paas.restart(app_uuid=app_uuid)).id
        elif action == "start":
            deployment_uuid = (await paas.start(app_uuid=app_uuid)).id
        else:  # a new deployment even when this commit was deployed before
            deployment_uuid = (await paas.deploy(app_uuid=app_uuid, force=True)).id
    await _save(ctx, project_id, deployment_uuid=deployment_uuid)
    return deployment_uuid


@DBOS.workflow(name="project.action_deploy")
async def action_workflow(project_id: int, action: str) -> dict[str, Any]:
    """On the deploy queue: start the deployment `action` asks for and follow it."""
    ctx = workflow_context()
    known = await step_known_deployments(ctx, project_id)
    deployment_uuid = await step_begin_action(ctx, project_id, action, known)
    return await follow_deployment(ctx, deployment_uuid)


@step("project.life.stop", **RETRY)
async def step_stop(ctx: StepContext, project_id: int) -> None:
    async with ctx.database.session() as session:
        app_uuid = str((await _load(session, project_id)).coolify_app_uuid)
    async with ctx.providers.paas() as paas:
        await paas.stop(app_uuid=app_uuid)


@step("project.life.plugins", **RETRY)
async def step_plugins(ctx: StepContext, project_id: int) -> dict[str, Any]:
    """`VRS_PLUGINS` as the project lists them (the owner's variables were set by the request
    that asked for the change: their values never enter the workflow tables)."""
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        app_uuid, plugins = str(project.coolify_app_uuid), ",".join(project.plugins)
    async with ctx.providers.paas() as paas:
        await paas.set_envs(
            app_uuid=app_uuid, envs=[EnvVar(key="VRS_PLUGINS", value=plugins, is_literal=True)]
        )
    return {"VRS_PLUGINS": plugins}


@step("project.life.domains", **RETRY)
async def step_domains(ctx: StepContext, project_id: int) -> dict[str, Any]:
    """The application serves the project's names, and each has its A record: records of names
    no longer listed that the project created go, new names get theirs (a CNAME in the way is
    replaced only when the project created it)."""
    settings = ctx.settings
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        domain, extra = project.domain, list(project.domains)
        app_uuid, server_ip = str(project.coolify_app_uuid), str(project.server_ip)
        provider = project.dns_provider or settings.dns_default_provider
        previous = list(project.dns_records)
    names = [*PROJECT_NAMES, *relative_names(domain, extra)]
    async with ctx.providers.paas() as paas:
        await paas.update_application(uuid=app_uuid, domains=app_domains(domain, extra))
    owned = {str(r.get("id")) for r in previous if r.get("created")}
    kept = [r for r in previous if r.get("name") in names]
    async with ctx.providers.dns(provider) as dns:
        for record in previous:
            if record.get("name") not in names and record.get("created"):
                await _ignore_missing(dns.delete_record(zone=domain, record_id=str(record["id"])))
        before = {r.id for r in await dns.list_records(zone=domain)}
        records = await setup_project_dns(dns, domain, server_ip, owned=owned, names=names)
    was_created = {str(r.get("id")): bool(r.get("created")) for r in kept}
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        project.dns_provider = provider
        project.dns_records = [
            _record_json(r, was_created.get(r.id, r.id not in before)) for r in records
        ]
    return {"names": names, "records": [r.id for r in records]}


@step("project.life.delete_zone", **RETRY)
async def step_delete_zone(ctx: StepContext, project_id: int) -> dict[str, Any]:
    """Delete the project's zone at its provider and forget it; a zone that is someone else's
    (not the project owner's) stays."""
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        zones = DnsZoneRepository(session)
        zone = await zones.get(project.domain)
        provider = project.dns_provider or (zone.provider if zone else None)
        if zone is not None and zone.owner_user_id not in (None, project.owner_user_id):
            return {"zone": project.domain, "deleted": False}
        domain = project.domain
    if provider is not None:
        async with ctx.providers.dns(provider) as dns:
            await _ignore_missing(dns.delete_zone(zone=domain))
    async with ctx.database.session() as session:
        zones = DnsZoneRepository(session)
        zone = await zones.get(domain)
        if zone is not None:
            await zones.delete(zone)
    return {"zone": domain, "deleted": True}


@step("project.life.remove", **RETRY)
async def step_remove(ctx: StepContext, project_id: int) -> None:
    await remove_resources_of(ctx, project_id)


@step("project.life.forget")
async def step_forget(ctx: StepContext, project_id: int) -> dict[str, Any]:
    async with ctx.database.session() as session:
        project = await session.get(Project, project_id)
        if project is None:
            return {"project_id": project_id, "deleted": True}
        name, domain = project.name, project.domain
        await session.delete(project)
        return {"project_id": project_id, "name": name, "domain": domain, "deleted": True}


@step("project.life.settle")
async def step_settle(ctx: StepContext, project_id: int, state: str) -> dict[str, Any]:
    async with ctx.database.session() as session:
        project = await _load(session, project_id)
        project.state = state
        project.live_url = f"https://{project.domain}" if state == "active" else project.live_url
        project.error_step = project.error_message = None
        return {
            "project_id": project.id,
            "state": state,
            "live_url": project.live_url,
            "deployment_uuid": project.deployment_uuid,
        }


# --- shared pieces of the bodies --------------------------------------------------------------


async def _deploy(ctx: OperationContext, project_id: int, action: str) -> None:
    """Deploy (or start, restart) through the deploy queue, then wait until the application
    runs and its health URL answers."""
    queue = await DBOS.retrieve_queue_async(DEPLOY_QUEUE)
    if queue is None:
        raise StepFailed("the deploy queue is not registered")
    with SetWorkflowID(f"{ctx.operation_id}-{action}"):
        handle = await queue.enqueue_async(action_workflow, project_id, action)
    deployed = await handle.get_result(polling_interval_sec=0.5)
    if deployed["status"] != "finished":
        detail = "timed out" if deployed["status"] == "timeout" else "failed"
        raise StepFailed(f"Coolify deployment {deployed['deployment_uuid']} {detail}")
    await ctx.progress(80, "Waiting until the application runs", step="running")
    settings = ctx.settings
    polls = max(1, int(settings.project_deploy_timeout_seconds / settings.project_poll_seconds))
    for _ in range(polls):
        if (await step_app_status(ctx, project_id))["status"] == APP_RUNNING:
            break
        await DBOS.sleep_async(settings.project_poll_seconds)
    else:
        raise StepFailed("The application did not start in time", code="not_running")
    await ctx.progress(90, "Verifying the health URL", step="health")
    await step_health(ctx, project_id)


def _failed(project_id: int, action: str, error: BaseException) -> StepFailed:
    message = _message(error)
    log.warning(
        "project action failed",
        extra={"project_id": project_id, "action": action, "error": message},
    )
    return StepFailed(f"{action}: {message}", code="step_failed")


# --- the operations ---------------------------------------------------------------------------


@operation_workflow(KINDS["redeploy"])
async def redeploy(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    project_id = int(input["project_id"])
    try:
        await ctx.progress(10, "Choosing what to deploy", step="source")
        await step_source(ctx, project_id, input.get("branch"), input.get("commit"))
        await ctx.progress(30, "Deploying (waiting for the deploy queue)", step="deploy")
        await _deploy(ctx, project_id, "deploy")
        result = await step_settle(ctx, project_id, "active")
    except Exception as error:
        raise _failed(project_id, "redeploy", error) from error
    await ctx.progress(100, "Redeployed", step="active")
    return result


@operation_workflow(KINDS["restart"])
async def restart(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    project_id = int(input["project_id"])
    try:
        await ctx.progress(20, "Restarting (waiting for the deploy queue)", step="restart")
        await _deploy(ctx, project_id, "restart")
        result = await step_settle(ctx, project_id, "active")
    except Exception as error:
        raise _failed(project_id, "restart", error) from error
    await ctx.progress(100, "Restarted", step="active")
    return result


@operation_workflow(KINDS["start"])
async def start(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    project_id = int(input["project_id"])
    try:
        await ctx.progress(20, "Starting (waiting for the deploy queue)", step="start")
        await _deploy(ctx, project_id, "start")
        result = await step_settle(ctx, project_id, "active")
    except Exception as error:
        raise _failed(project_id, "start", error) from error
    await ctx.progress(100, "Started", step="active")
    return result


@operation_workflow(KINDS["stop"])
async def stop(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    project_id = int(input["project_id"])
    settings = ctx.settings
    try:
        await ctx.progress(20, "Stopping the application", step="stop")
        await step_stop(ctx, project_id)
        await ctx.progress(60, "Waiting until the application stopped", step="stopped")
        polls = max(1, int(settings.project_deploy_timeout_seconds / settings.project_poll_seconds))
        for _ in range(polls):
            if (await step_app_status(ctx, project_id))["status"] != APP_RUNNING:
                break
            await DBOS.sleep_async(settings.project_poll_seconds)
        else:
            raise StepFailed("The application did not stop in time", code="still_running")
        result = await step_settle(ctx, project_id, "stopped")
    except Exception as error:
        raise _failed(project_id, "stop", error) from error
    await ctx.progress(100, "Stopped", step="stopped")
    return result


@operation_workflow(KINDS["edit"])
async def edit(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    """Apply the project's plugins and names; a running project is deployed again so that the
    application picks them up (and the owner's variables, set by the request)."""
    project_id = int(input["project_id"])
    deploy = bool(input.get("deploy"))
    try:
        await ctx.progress(10, "Setting the plugins", step="plugins")
        await step_plugins(ctx, project_id)
        await ctx.progress(25, "Setting domains and DNS records", step="domains")
        await step_domains(ctx, project_id)
        if deploy:
            await ctx.progress(40, "Deploying (waiting for the deploy queue)", step="deploy")
            await _deploy(ctx, project_id, "deploy")
            result = await step_settle(ctx, project_id, "active")
        else:
            result = {"project_id": project_id, "deployed": False}
    except Exception as error:
        raise _failed(project_id, "edit", error) from error
    await ctx.progress(100, "Changes applied", step="done")
    return result


@operation_workflow(KINDS["delete"])
async def delete(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    """Remove the application (with its volumes, configuration and networks), the Coolify
    project and the DNS records the project created; with `delete_zone` the domain's zone too.
    The domain registration stays. Then the project is forgotten."""
    project_id = int(input["project_id"])
    try:
        await ctx.progress(20, "Removing the application, Coolify project and DNS records")
        await step_remove(ctx, project_id)
        zone: dict[str, Any] = {"deleted": False}
        if input.get("delete_zone"):
            await ctx.progress(70, "Deleting the DNS zone", step="zone")
            zone = await step_delete_zone(ctx, project_id)
        result = await step_forget(ctx, project_id)
    except Exception as error:
        raise _failed(project_id, "delete", error) from error
    await ctx.progress(100, "Deleted", step="deleted")
    return {**result, "zone_deleted": bool(zone.get("deleted"))}
