"""Creating a server as a durable operation, and the reconciliation job.

server.create  (input: {"instance_id"})
  1. create_at_provider: look for a server carrying the instance's marker; create it only
     when there is none (a step may run twice), then record its id and clear the stored
     root password. A create that fails transiently (5xx, 429, no answer) may still have
     made the server, so the marker is looked up again before each further attempt.
  2. wait_until_running: follow the provider's action and the server's status until it runs
     (bounded; reconciliation takes over after `servers_provision_timeout_seconds`)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from stellwerk.operation.context import StepContext
from stellwerk.operation.workflow import (
    OperationContext,
    operation_workflow,
    step,
)
from stellwerk.provider.action import ActionFailed, ActionTimeout, exponential_backoff
from stellwerk.provider.compute.base import CreateServer
from stellwerk.provider.error import PROVIDER_NOT_FOUND, ProviderError
from stellwerk.runtime import Runtime
from stellwerk.server import events as server_events
from stellwerk.server.compute import connected, secret_box
from stellwerk.server.repository import InstanceRepository, ProviderRepository
from stellwerk.server.service import CREATE_KIND, apply_server, as_body_field, reconcile

log = logging.getLogger(__name__)

# Creates attempted per step run; the marker is looked up between them.
CREATE_ATTEMPTS = 4
CREATE_BACKOFF = exponential_backoff(base=1.0, multiplier=2.0, cap=15.0)


class InstanceGone(Exception):
    pass


async def _load(session: Any, instance_id: str) -> tuple[Any, Any]:
    instance = await InstanceRepository(session).get(uuid.UUID(instance_id))
    if instance is None:
        raise InstanceGone(instance_id)
    provider = (
        await ProviderRepository(session).get(instance.provider_id)
        if instance.provider_id is not None
        else None
    )
    if provider is None:
        raise ProviderError(
            PROVIDER_NOT_FOUND, "The instance's provider no longer exists", provider="stellwerk"
        )
    return instance, provider


@step("server.create_at_provider")
async def create_at_provider(ctx: StepContext, instance_id: str) -> dict[str, Any]:
    settings = ctx.settings
    # Read, then talk to the provider with no transaction open, then write.
    async with ctx.database.session() as session:
        instance, provider = await _load(session, instance_id)
        if instance.provider_instance_id is not None:
            return {"server_id": instance.provider_instance_id, "action_id": None}
    options = instance.options
    password = (
        secret_box(settings).decrypt(instance.root_password_encrypted)
        if instance.root_password_encrypted
        else None
    )
    async with connected(provider, settings) as compute:
        server = await compute.find_server(marker=instance_id)
        attempt = 0
        while server is None:
            attempt += 1
            try:
                created = await compute.create_server(
                    request=CreateServer(
                        name=instance.label,
                        plan=instance.plan_type or "",
                        region=instance.region or "",
                        image=instance.image or "",
                        marker=instance_id,
                        root_password=password,
                        ssh_keys=list(options.get("sshKeys") or []),
                        backups=bool(options.get("backups")),
                        monitoring=bool(options.get("monitoring")),
                        ipv6=options.get("ipv6", True) is not False,
                        private_ip=bool(options.get("privateIP")),
                        vpc_uuid=options.get("vpc_uuid"),
                        app=options.get("appSlug"),
                        stackscript_id=options.get("stackscriptId"),
                        stackscript_data=options.get("stackscriptData"),
                        tags=list(options.get("tags") or []),
                        user_data=options.get("user_data"),
                    )
                )
            except ProviderError as error:
                if not error.transient:
                    raise as_body_field(error) from error
                log.warning(
                    "creating a server failed transiently; looking for it before retrying",
                    extra={"instance_id": instance_id, "code": error.code, "attempt": attempt},
                )
                if attempt < CREATE_ATTEMPTS:
                    await asyncio.sleep(CREATE_BACKOFF(attempt - 1))
                # The provider may have made the server and only its answer was lost.
                server = await compute.find_server(marker=instance_id)
                if server is None and attempt >= CREATE_ATTEMPTS:
                    raise as_body_field(error) from error
                continue
            server = created.server
    async with ctx.database.session() as session:
        instance = await InstanceRepository(session).get(uuid.UUID(instance_id))
        if instance is None:  # deleted meanwhile: reconciliation reports the server (its marker)
            raise InstanceGone(instance_id)
        apply_server(instance, server)
        instance.root_password_encrypted = None
        await InstanceRepository(session).flush()
    return {"server_id": server.id, "status": server.status}


@step("server.wait_until_running")
async def wait_until_running(ctx: StepContext, instance_id: str) -> dict[str, Any]:
    settings = ctx.settings
    deadline = time.monotonic() + settings.servers_provision_timeout_seconds
    backoff = exponential_backoff(base=0.5, multiplier=1.5, cap=10.0, jitter=False)
    async with ctx.database.session() as session:
        instance, provider = await _load(session, instance_id)
        server_id = instance.provider_instance_id
    attempt = 0
    status = "provisioning"
    while time.monotonic() < deadline and attempt < 500:
        async with connected(provider, settings) as compute:
            server = await compute.get_server(server_id=server_id)
        status = server.status
        if server.status != "provisioning":
            async with ctx.database.session() as session:
                instance = await InstanceRepository(session).get(uuid.UUID(instance_id))
                if instance is not None:
                    before = instance.status
                    apply_server(instance, server)
                    await server_events.state_changed(session, instance, before)
            return {"status": server.status, "ip_address": server.ipv4}
        await asyncio.sleep(backoff(attempt))
        attempt += 1
    return {"status": status, "timed_out": True}


@step("server.mark_failed")
async def mark_failed(ctx: StepContext, instance_id: str, message: str) -> None:
    async with ctx.database.session() as session:
        instance = await InstanceRepository(session).get(uuid.UUID(instance_id))
        if instance is not None and instance.provider_instance_id is None:
            before = instance.status
            instance.status = "failed"
            instance.error = message[:500]
            instance.root_password_encrypted = None
            await server_events.state_changed(session, instance, before)


@operation_workflow(CREATE_KIND)
async def create_server(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    instance_id = str(input["instance_id"])
    await ctx.progress(10, "Creating the server at the provider", step="create")
    try:
        created = await create_at_provider(ctx, instance_id)
    except InstanceGone:
        return {"instance_id": instance_id, "status": "deleted"}
    except Exception as error:
        await mark_failed(ctx, instance_id, getattr(error, "message", str(error)))
        raise
    await ctx.progress(
        50, f"Server {created['server_id']} created; waiting for it to run", step="wait"
    )
    try:
        result = await wait_until_running(ctx, instance_id)
    except (ProviderError, ActionFailed, ActionTimeout) as error:
        # The server exists; reconciliation keeps following it.
        return {"instance_id": instance_id, "server_id": created["server_id"], "error": str(error)}
    await ctx.progress(95, f"Server is {result['status']}", step="running")
    return {"instance_id": instance_id, "server_id": created["server_id"], **result}


async def reconcile_job(runtime: Runtime) -> dict[str, int]:
    async with runtime.database.session() as session:
        return await reconcile(session, settings=runtime.settings)
