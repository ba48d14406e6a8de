"""The module operations as durable workflows: install, update, remove, uninstall, and stopping,
starting and restarting an instance.

Every filesystem, database and runtime action is a `@step` and idempotent, so a process
killed at any point resumes after its last completed step and ends with a complete instance or
none: files are unpacked in a staging directory and appear in their final place by one rename;
the instance row is written only after that; a failed install removes what it made.

Updates start the new version as a candidate next to the running one and switch only once the
candidate is healthy; if the switched instance then fails its health check, the old files and
unit come back. The old version keeps running until the new one has proved itself.

Two operations stop with a question: an update that crosses a major version asks whether to go
on (`major_update`), and removing the primary instance of a module with several others asks
which one becomes primary (`new_primary`). A request may answer either in advance.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable, StellwerkError
from stellwerk.kit.archive import ArchiveLimits, UnsafeArchive, safe_extract
from stellwerk.kit.semver import parse_version
from stellwerk.kit.time import utc_now
from stellwerk.models import ModuleInstance
from stellwerk.module.files import ModuleFiles
from stellwerk.module.manifest import MANIFEST_FILE, IndexVersion, Manifest, describe_validation
from stellwerk.module.pins import module_pin
from stellwerk.module.repository import ModuleInstanceRepository, ModuleOperationRepository
from stellwerk.module.runtimes import (
    RUNNING,
    STOPPED,
    ModuleRuntime,
    UnitSpec,
    runtime_for,
    unit_name,
    wait_healthy,
)
from stellwerk.module.sources import RepositorySource, fetch_archive
from stellwerk.operation import engine
from stellwerk.operation.context import StepContext
from stellwerk.operation.workflow import (
    OperationContext,
    OperationDeclined,
    operation_workflow,
    step,
)

log = logging.getLogger(__name__)

INSTALL, UPDATE, REMOVE, UNINSTALL = (
    "module.install",
    "module.update",
    "module.remove",
    "module.uninstall",
)
STOP, START, RESTART = "module.stop", "module.start", "module.restart"
LIFECYCLE = {"stop": STOP, "start": START, "restart": RESTART}
KINDS = (INSTALL, UPDATE, REMOVE, UNINSTALL, STOP, START, RESTART)
# Runtimes whose instances live on the host that installed them (a process, a container of the
# local Docker): work on such an instance runs on a worker of that host.
HOST_BOUND_RUNTIMES = ("process", "container")


def instance_host(instance: ModuleInstance) -> str | None:
    """The host work on `instance` must run on; None: any worker."""
    return instance.host if instance.runtime in HOST_BOUND_RUNTIMES else None


# The questions module operations ask, by id (what `answers` in a request may name).
MAJOR_UPDATE = "major_update"
NEW_PRIMARY = "new_primary"


class UnsafeModuleArchive(BadRequest):
    default_code = "unsafe_archive"


class InvalidManifest(BadRequest):
    default_code = "invalid_manifest"


class ModuleUnhealthy(ServiceUnavailable):
    default_code = "module_unhealthy"


class InstanceGone(NotFound):
    default_code = "instance_not_found"


def _files(ctx: StepContext) -> ModuleFiles:
    files = ModuleFiles.for_settings(ctx.settings)
    files.ensure()
    return files


def _runtime(ctx: StepContext, name: str) -> ModuleRuntime:
    return runtime_for(name, ctx.settings)


def _read_manifest(tree: Any, module_name: str, version: str) -> Manifest:
    path = tree / MANIFEST_FILE
    if not path.is_file() or path.is_symlink():
        raise InvalidManifest(f"The archive has no {MANIFEST_FILE} at its root")
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as error:
        detail = describe_validation(error) if isinstance(error, ValidationError) else str(error)
        raise InvalidManifest(f"{MANIFEST_FILE} is invalid: {detail}") from error
    if manifest.name != module_name or manifest.version != version:
        raise InvalidManifest(
            f"{MANIFEST_FILE} describes {manifest.name} {manifest.version}, "
            f"not {module_name} {version}"
        )
    return manifest


def _unpack(ctx: StepContext, operation_id: str, module_name: str, version: str) -> dict[str, Any]:
    files = _files(ctx)
    staging = files.staging_dir(operation_id)
    tree = staging / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    try:
        safe_extract(
            staging / "archive",
            tree,
            limits=ArchiveLimits(max_total_bytes=ctx.settings.module_max_archive_bytes * 5),
        )
    except UnsafeArchive as error:
        shutil.rmtree(tree, ignore_errors=True)
        raise UnsafeModuleArchive(f"The module archive was refused: {error}") from error
    manifest = _read_manifest(tree, module_name, version)
    return manifest.model_dump(mode="json")


@step("module.stage")
async def stage(
    ctx: StepContext,
    operation_id: str,
    module_name: str,
    source: dict[str, Any],
    version: dict[str, Any],
) -> dict[str, Any]:
    """Fetch and check the archive, unpack it into staging; returns the manifest.

    The archive's sha256 must match the index and the pin of this repository, module and
    version; the first archive that unpacks into a valid module pins its checksum.
    """
    files = await asyncio.to_thread(_files, ctx)
    staging = files.staging_dir(operation_id)
    await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
    index_version = IndexVersion.model_validate(version)
    repository = RepositorySource(**source)
    pin = (repository.id, module_name, index_version.version, index_version.sha256)
    async with ctx.database.session() as session:
        await module_pin.check(session, *pin)
    await fetch_archive(
        repository,
        index_version,
        staging / "archive",
        max_bytes=ctx.settings.module_max_archive_bytes,
    )
    manifest = await asyncio.to_thread(
        _unpack, ctx, operation_id, module_name, index_version.version
    )
    async with ctx.database.session() as session:
        await module_pin.pin(session, *pin)
    return manifest


@step("module.place")
async def place(ctx: StepContext, operation_id: str, module_name: str, instance_id: str) -> str:
    files = await asyncio.to_thread(_files, ctx)
    target = files.instance_dir(module_name, instance_id)
    await asyncio.to_thread(files.place, files.staging_dir(operation_id) / "tree", target)
    return str(target)


@step("module.register")
async def register(
    ctx: StepContext,
    module_name: str,
    instance_id: str,
    repository_id: str,
    manifest: dict[str, Any],
    runtime_name: str,
) -> None:
    parsed = Manifest.model_validate(manifest)
    async with ctx.database.session() as session:
        instances = ModuleInstanceRepository(session)
        if await instances.get(instance_id) is not None:
            return  # registered by an earlier run of this step
        if not parsed.multi_instance and await instances.count(module_name) > 0:
            raise Conflict(
                f"Module {module_name} allows only one instance and is already installed",
                code="single_instance",
            )
        instance = ModuleInstance(
            id=instance_id,
            module_name=module_name,
            repository_id=repository_id,
            version=parsed.version,
            status="installed",
            is_primary=await instances.primary(module_name) is None,
            multi_instance=parsed.multi_instance,
            frontend_url=parsed.frontend_url or f"/{module_name}/",
            runtime=runtime_name,
            unit_name=unit_name(ctx.settings.module_stack_name, module_name, instance_id),
            host=engine.this_host() if runtime_name in HOST_BOUND_RUNTIMES else None,
            manifest=manifest,
            runtime_state={},
        )
        try:
            async with session.begin_nested():
                await instances.add(instance)
        except IntegrityError:
            # Another instance became primary at the same moment: this one is not.
            instance.is_primary = False
            await instances.add(instance)


def _spec(
    ctx: StepContext, instance: ModuleInstance, path: Any, *, candidate: bool = False
) -> UnitSpec:
    manifest = Manifest.model_validate(instance.manifest)
    return UnitSpec(
        unit_name=unit_name(
            ctx.settings.module_stack_name, instance.module_name, instance.id, candidate=candidate
        )
        if candidate
        else instance.unit_name,
        module_name=instance.module_name,
        instance_id=instance.id,
        version=manifest.version,
        path=path,
        manifest=manifest,
    )


async def _load(ctx: StepContext, instance_id: str) -> ModuleInstance | None:
    async with ctx.database.session() as session:
        return await ModuleInstanceRepository(session).get(instance_id)


async def _set(ctx: StepContext, instance_id: str, **values: Any) -> None:
    async with ctx.database.session() as session:
        await ModuleInstanceRepository(session).set_values(instance_id, **values)


@step("module.start")
async def start_instance(ctx: StepContext, instance_id: str) -> dict[str, Any]:
    """Start the unit and wait for it to be healthy; returns {healthy, reason}."""
    instance = await _load(ctx, instance_id)
    if instance is None:
        raise LookupError(f"instance {instance_id} is gone")
    files = await asyncio.to_thread(_files, ctx)
    spec = _spec(ctx, instance, files.instance_dir(instance.module_name, instance.id))
    runtime = _runtime(ctx, instance.runtime)
    runtime.check(spec.unit_name, spec.manifest)
    state = await runtime.start(spec)
    healthy, reason = await wait_healthy(runtime, spec)
    await _set(ctx, instance_id, status=RUNNING if healthy else "error", runtime_state=state)
    return {"healthy": healthy, "reason": reason}


@step("module.discard")
async def discard(
    ctx: StepContext,
    operation_id: str,
    module_name: str,
    instance_id: str,
    runtime_name: str,
    unit: str,
) -> None:
    """Undo a failed install: unit, row and files (every part may already be gone)."""
    try:
        await _runtime(ctx, runtime_name).stop(unit)
    except Exception:  # the runtime may be what failed; the files go regardless
        log.warning("could not stop a failed module unit", extra={"unit": unit}, exc_info=True)
    async with ctx.database.session() as session:
        await _delete_row(session, module_name, instance_id)
    files = await asyncio.to_thread(_files, ctx)
    await asyncio.to_thread(files.remove_tree, files.instance_dir(module_name, instance_id))
    await asyncio.to_thread(files.remove_tree, files.staging_dir(operation_id))


@step("module.cleanup")
async def cleanup(ctx: StepContext, operation_id: str) -> None:
    files = await asyncio.to_thread(_files, ctx)
    await asyncio.to_thread(files.remove_tree, files.staging_dir(operation_id))


async def _delete_row(session: Any, module_name: str, instance_id: str) -> None:
    """Delete an instance row; if it was the primary, the oldest other instance takes over."""
    instances = ModuleInstanceRepository(session)
    instance = await instances.get(instance_id)
    if instance is None:
        return
    was_primary = instance.is_primary
    await instances.delete(instance_id)
    await session.flush()
    if was_primary:
        successor = await instances.oldest_other(module_name, instance_id)
        if successor is not None:
            await instances.set_values(successor.id, is_primary=True)


@operation_workflow(INSTALL)
async def install(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name = str(input["module_name"])
    instance_id = str(input["instance_id"])
    runtime_name = str(input["runtime"])
    unit = unit_name(str(input["stack"]), module_name, instance_id)
    try:
        await ctx.progress(5, "Fetching module archive", step="fetch")
        manifest = await stage(
            ctx, ctx.operation_id, module_name, input["repository"], input["archive"]
        )
        await ctx.progress(40, "Module files copied", step="stage")
        path = await place(ctx, ctx.operation_id, module_name, instance_id)
        await ctx.progress(55, "Module files in place", step="place")
        await register(
            ctx, module_name, instance_id, str(input["repository"]["id"]), manifest, runtime_name
        )
        await ctx.progress(65, "Starting module", step="register")
        outcome = await start_instance(ctx, instance_id)
        if not outcome["healthy"]:
            raise ModuleUnhealthy(f"Module {module_name} is not healthy: {outcome['reason']}")
        await ctx.progress(95, "Module running", step="start")
        await cleanup(ctx, ctx.operation_id)
    except Exception:
        await discard(ctx, ctx.operation_id, module_name, instance_id, runtime_name, unit)
        raise
    return {
        "module_name": module_name,
        "instance_id": instance_id,
        "version": manifest["version"],
        "path": path,
        "status": RUNNING,
    }


def _copy_tree(ctx: StepContext, operation_id: str, instance_id: str) -> str:
    files = _files(ctx)
    staging = files.staging_dir(operation_id)
    target = staging / instance_id
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(staging / "tree", target, symlinks=True)
    return str(target)


@step("module.try_candidate")
async def try_candidate(
    ctx: StepContext, operation_id: str, instance_id: str, manifest: dict[str, Any]
) -> dict[str, Any]:
    """Run the new version beside the old one; keep it only long enough to prove it healthy."""
    instance = await _load(ctx, instance_id)
    if instance is None:
        return {"healthy": False, "reason": "the instance was removed"}
    tree = await asyncio.to_thread(_copy_tree, ctx, operation_id, instance_id)
    candidate_row = ModuleInstance(
        id=instance.id,
        module_name=instance.module_name,
        unit_name=instance.unit_name,
        manifest=manifest,
        runtime=instance.runtime,
    )
    spec = _spec(ctx, candidate_row, Path(tree), candidate=True)
    runtime = _runtime(ctx, instance.runtime)
    runtime.check(spec.unit_name, spec.manifest)
    try:
        await runtime.start(spec)
        healthy, reason = await wait_healthy(runtime, spec)
    finally:
        await runtime.stop(spec.unit_name)
    return {"healthy": healthy, "reason": reason}


@step("module.switch")
async def switch(
    ctx: StepContext,
    operation_id: str,
    instance_id: str,
    manifest: dict[str, Any],
    repository_id: str | None = None,
) -> dict[str, Any]:
    """Replace the old files and unit by the new ones; put the old ones back if unhealthy.

    The instance then comes from `repository_id` (later updates follow it there)."""
    instance = await _load(ctx, instance_id)
    if instance is None:
        return {"healthy": False, "reason": "the instance was removed"}
    files = await asyncio.to_thread(_files, ctx)
    final = files.instance_dir(instance.module_name, instance.id)
    previous = files.previous_dir(instance.module_name, instance.id)
    new_tree = files.staging_dir(operation_id) / instance_id
    runtime = _runtime(ctx, instance.runtime)
    old_manifest, old_version = instance.manifest, instance.version
    old_repository = instance.repository_id
    new_version = str(manifest["version"])
    await runtime.stop(instance.unit_name)
    # Idempotent moves: old files to .previous, new files into place.
    if not previous.exists():
        await asyncio.to_thread(files.place, final, previous)
    if not final.exists():
        await asyncio.to_thread(files.place, new_tree, final)
    await _set(
        ctx,
        instance_id,
        version=new_version,
        manifest=manifest,
        status="installed",
        repository_id=repository_id or old_repository,
    )
    instance.manifest, instance.version = manifest, new_version
    spec = _spec(ctx, instance, final)
    state = await runtime.start(spec)
    healthy, reason = await wait_healthy(runtime, spec)
    if healthy:
        await _set(ctx, instance_id, status=RUNNING, runtime_state=state)
        await asyncio.to_thread(files.remove_tree, previous)
        return {"healthy": True, "reason": reason}
    # Roll back: the old files and the old unit.
    await runtime.stop(instance.unit_name)
    await asyncio.to_thread(files.remove_tree, final)
    await asyncio.to_thread(files.place, previous, final)
    await _set(
        ctx,
        instance_id,
        version=old_version,
        manifest=old_manifest,
        status="installed",
        repository_id=old_repository,
    )
    instance.manifest, instance.version = old_manifest, old_version
    old_spec = _spec(ctx, instance, final)
    state = await runtime.start(old_spec)
    restored, _ = await wait_healthy(runtime, old_spec)
    await _set(ctx, instance_id, status=RUNNING if restored else "error", runtime_state=state)
    return {"healthy": False, "reason": reason}


def crosses_major(current: str, target: str) -> bool:
    """Whether going from `current` to `target` raises the major version (semver: 1.x to 2.0;
    0.1 to 0.2 does not). Versions that are not semantic versions never count."""
    old, new = parse_version(current), parse_version(target)
    return old is not None and new is not None and new.major > old.major


@operation_workflow(UPDATE)
async def update(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name = str(input["module_name"])
    target = str(input["archive"]["version"])
    instance_ids = [str(i) for i in input["instance_ids"]]
    results: dict[str, str] = {}
    # The versions when the update was asked for (in the input, so that operations started by
    # an earlier release replay the same steps after a restart).
    current: dict[str, str] = dict(input.get("current_versions") or {})
    stopped = {str(i) for i in input.get("stopped") or []}
    crossing = sorted({v for v in current.values() if crosses_major(v, target)})
    if crossing:
        choice = await ctx.ask(
            MAJOR_UPDATE,
            f"Updating {module_name} from {', '.join(crossing)} to {target} crosses a major "
            "version, which may change how it works: continue?",
            [("continue", f"Update to {target}"), ("abort", "Keep the current version")],
        )
        if choice != "continue":
            raise OperationDeclined(f"Not updated: {module_name} stays at {', '.join(crossing)}")
    try:
        await ctx.progress(5, f"Fetching {module_name} {target}", step="fetch")
        manifest = await stage(
            ctx, ctx.operation_id, module_name, input["repository"], input["archive"]
        )
        await ctx.progress(30, "Module files copied", step="stage")
        share = 60 // max(1, len(instance_ids))
        for number, instance_id in enumerate(instance_ids):
            base = 30 + number * share
            await ctx.progress(base, f"Starting {target} beside instance {instance_id}")
            trial = await try_candidate(ctx, ctx.operation_id, instance_id, manifest)
            if not trial["healthy"]:
                results[instance_id] = f"kept the old version: {trial['reason']}"
                continue
            await ctx.progress(base + share // 2, f"Switching instance {instance_id} to {target}")
            outcome = await switch(
                ctx, ctx.operation_id, instance_id, manifest, str(input["repository"]["id"])
            )
            results[instance_id] = (
                "updated" if outcome["healthy"] else f"rolled back: {outcome['reason']}"
            )
            if instance_id in stopped:  # it was stopped on purpose: it stays stopped
                await stop_instance(ctx, instance_id)
    finally:
        await cleanup(ctx, ctx.operation_id)
    failed = {k: v for k, v in results.items() if v != "updated"}
    if failed:
        raise ModuleUnhealthy(
            f"Update of {module_name} to {target} failed and was rolled back: "
            + "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    return {"module_name": module_name, "version": target, "instances": results}


@step("module.remove_instance")
async def remove_instance(
    ctx: StepContext, module_name: str, instance_id: str, runtime_name: str, unit: str
) -> None:
    """Stop the unit, forget the row (promoting a new primary), then delete the files."""
    await _runtime(ctx, runtime_name).stop(unit)
    async with ctx.database.session() as session:
        await _delete_row(session, module_name, instance_id)
    files = await asyncio.to_thread(_files, ctx)
    await asyncio.to_thread(files.remove_tree, files.instance_dir(module_name, instance_id))
    await asyncio.to_thread(files.remove_tree, files.previous_dir(module_name, instance_id))


@step("module.promote")
async def promote(ctx: StepContext, module_name: str, instance_id: str) -> bool:
    """Make `instance_id` the primary instance, if it still exists."""
    async with ctx.database.session() as session:
        instances = ModuleInstanceRepository(session)
        chosen = await instances.get(instance_id)
        if chosen is None or chosen.module_name != module_name:
            return False
        if not chosen.is_primary:
            await instances.clear_primary(module_name)
            await instances.set_values(instance_id, is_primary=True)
    return True


@operation_workflow(REMOVE)
async def remove(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name, instance_id = str(input["module_name"]), str(input["instance_id"])
    # The other instances when the primary one's removal was asked for (none otherwise).
    candidates: list[dict[str, str]] = list(input.get("successors") or [])
    new_primary: str | None = None
    if len(candidates) > 1:
        new_primary = await ctx.ask(
            NEW_PRIMARY,
            f"You are removing the primary instance of {module_name}: which instance becomes "
            "primary?",
            [(c["id"], c["label"]) for c in candidates],
        )
        await ctx.progress(5, f"Instance {new_primary} becomes the primary {module_name}")
        await promote(ctx, module_name, new_primary)
    await ctx.progress(10, f"Removing instance {instance_id}", step="remove")
    await remove_instance(ctx, module_name, instance_id, str(input["runtime"]), str(input["unit"]))
    return {
        "module_name": module_name,
        "instance_id": instance_id,
        "removed": True,
        "new_primary": new_primary,
    }


@step("module.stop_instance")
async def stop_instance(ctx: StepContext, instance_id: str) -> bool:
    """Stop the unit and remember the instance as stopped (its files stay)."""
    instance = await _load(ctx, instance_id)
    if instance is None:
        return False
    await _runtime(ctx, instance.runtime).stop(instance.unit_name)
    await _set(ctx, instance_id, status=STOPPED)
    return True


async def _start_or_fail(ctx: StepContext, module_name: str, instance_id: str) -> None:
    outcome = await start_instance(ctx, instance_id)
    if not outcome["healthy"]:
        raise ModuleUnhealthy(f"Module {module_name} is not healthy: {outcome['reason']}")


@operation_workflow(STOP)
async def stop(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name, instance_id = str(input["module_name"]), str(input["instance_id"])
    await ctx.progress(20, f"Stopping instance {instance_id}", step="stop")
    if not await stop_instance(ctx, instance_id):
        raise InstanceGone(f"Instance {instance_id} of {module_name} was removed meanwhile")
    return {"module_name": module_name, "instance_id": instance_id, "status": STOPPED}


@operation_workflow(START)
async def start(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name, instance_id = str(input["module_name"]), str(input["instance_id"])
    await ctx.progress(20, f"Starting instance {instance_id}", step="start")
    await _start_or_fail(ctx, module_name, instance_id)
    return {"module_name": module_name, "instance_id": instance_id, "status": RUNNING}


@operation_workflow(RESTART)
async def restart(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name, instance_id = str(input["module_name"]), str(input["instance_id"])
    await ctx.progress(10, f"Stopping instance {instance_id}", step="stop")
    if not await stop_instance(ctx, instance_id):
        raise InstanceGone(f"Instance {instance_id} of {module_name} was removed meanwhile")
    await ctx.progress(50, f"Starting instance {instance_id}", step="start")
    await _start_or_fail(ctx, module_name, instance_id)
    return {"module_name": module_name, "instance_id": instance_id, "status": RUNNING}


@operation_workflow(UNINSTALL)
async def uninstall(ctx: OperationContext, input: dict[str, Any]) -> dict[str, Any]:
    module_name = str(input["module_name"])
    instances: list[dict[str, Any]] = list(input["instances"])
    for number, item in enumerate(instances):
        await ctx.progress(
            int(100 * number / max(1, len(instances))), f"Removing instance {item['id']}"
        )
        await remove_instance(
            ctx, module_name, str(item["id"]), str(item["runtime"]), str(item["unit"])
        )
    return {"module_name": module_name, "removed": [str(i["id"]) for i in instances]}


async def reconcile(database: Database, config: Settings) -> int:
    """Tidy what interrupted or cancelled operations left on disk; returns entries fixed."""
    files = ModuleFiles.for_settings(config)
    if not files.root.is_dir():
        return 0
    # Look at the disk first, the database second: whatever an operation put on disk before the
    # listing belongs to an operation (or instance) the database then still shows.
    staged = await asyncio.to_thread(files.staging_ids)
    placed = await asyncio.to_thread(files.instance_dirs)
    previous_root = files.root / ".previous"
    previous = list(previous_root.iterdir()) if previous_root.is_dir() else []
    async with database.session() as session:
        active = await ModuleOperationRepository(session).active(KINDS)
        known = {i.id for i in await ModuleInstanceRepository(session).list()}
    busy_operations = {str(o.id) for o in active}
    busy_instances: set[str] = set()
    for operation in active:
        busy_instances.add(str(operation.input.get("instance_id", "")))
        busy_instances.update(str(i) for i in operation.input.get("instance_ids", []))
        busy_instances.update(str(i.get("id")) for i in operation.input.get("instances", []))
    fixed = 0
    for operation_id in staged:
        if operation_id not in busy_operations:
            await asyncio.to_thread(files.remove_tree, files.root / ".staging" / operation_id)
            fixed += 1
    for module_name, instance_id in placed:
        if instance_id not in known and instance_id not in busy_instances:
            await asyncio.to_thread(files.remove_tree, files.instance_dir(module_name, instance_id))
            fixed += 1
    for entry in previous:
        module_name, _, instance_id = entry.name.rpartition("_")
        if instance_id in busy_instances:
            continue
        try:
            final = files.instance_dir(module_name, instance_id)
        except StellwerkError:
            continue
        if final.exists() or instance_id not in known:
            await asyncio.to_thread(files.remove_tree, entry)
        else:
            await asyncio.to_thread(files.place, entry, final)
        fixed += 1
    await asyncio.to_thread(files.empty_trash)
    if fixed:
        log.info("module files reconciled", extra={"fixed": fixed, "at": str(utc_now())})
    return fixed
