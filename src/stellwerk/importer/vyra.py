"""The VYRA module manager's workspace: its installed modules and their instances (ids kept),
which instance of each module is the primary one, and its repository configuration.

The layout follows the module manager's public sources (the vyra-entity repositories): instances
live in `{workspace}/modules/{module_name}_{instance_id}/` with `.module/module_data.yaml` (`name`,
`version`, `uuid`, ...) and a `.env` (`VYRA_SLIM`), the repositories in
`{workspace}/config/repository_config.json`, and a module's images are tagged
`{module_name}:production` (`slim-production` for slim modules).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.config import Settings
from stellwerk.database import after_commit
from stellwerk.exceptions import BadRequest, ValidationFailed
from stellwerk.importer.plan import ImportPlan
from stellwerk.models import ModuleInstance
from stellwerk.module.files import ModuleFiles
from stellwerk.module.manifest import Manifest, RunSpec
from stellwerk.module.repository import ModuleInstanceRepository, ModuleRepositoryRepository
from stellwerk.module.runtimes import unit_name
from stellwerk.module.schemas import RepositoryCreate
from stellwerk.module.service import module_repository

SOURCE = "vyra"
_INSTANCE_DIR = re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,64})_(?P<id>[0-9a-f]{32})$")
_REPOSITORY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# repository_config.json's types → Stellwerk's.
REPOSITORY_TYPES = {"file-based": "file", "file": "file", "https": "https"}


class WorkspaceUnreadable(BadRequest):
    """The directory is not a module manager's workspace."""


@dataclass
class WorkspaceInstance:
    module_name: str
    instance_id: str
    version: str
    path: Path
    display_name: str | None = None
    description: str | None = None
    slim: bool = False
    # When its directory last changed: the oldest instance of a module is taken as its primary
    # one when the module manager's own answer is not at hand.
    mtime: float = 0.0


@dataclass
class Workspace:
    root: Path
    instances: list[WorkspaceInstance] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    repositories: list[dict[str, Any]] = field(default_factory=list)
    # instance id → what the module manager said about it (`GET /modules/instances`).
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)


def _env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.split("#", 1)[0].strip().strip("\"'")
    return values


def _instance(entry: Path) -> WorkspaceInstance | str:
    """The instance in one module directory, or why it is not one."""
    match = _INSTANCE_DIR.match(entry.name)
    if match is None:
        return "not an instance directory ({module_name}_{32 hexadecimal characters})"
    data_file = entry / ".module" / "module_data.yaml"
    try:
        data = yaml.safe_load(data_file.read_text())
    except (OSError, yaml.YAMLError) as error:
        return f"cannot read .module/module_data.yaml ({type(error).__name__})"
    if not isinstance(data, dict):
        return ".module/module_data.yaml is not a mapping"
    name, version = data.get("name"), str(data.get("version") or "")
    if name != match["name"]:
        return f".module/module_data.yaml names the module {name!r}"
    if data.get("uuid") and data["uuid"] != match["id"]:
        return f".module/module_data.yaml has the uuid {data['uuid']!r}"
    if not version:
        return ".module/module_data.yaml has no version"
    return WorkspaceInstance(
        module_name=match["name"],
        instance_id=match["id"],
        version=version,
        path=entry,
        display_name=str(data["display_name"]) if data.get("display_name") else None,
        description=str(data["description"]) if data.get("description") else None,
        slim=_env(entry / ".env").get("VYRA_SLIM", "false").lower() == "true",
        mtime=entry.stat().st_mtime,
    )


def read_workspace(root: Path, instances_file: Path | None = None) -> Workspace:
    modules = root / "modules"
    if not modules.is_dir():
        raise WorkspaceUnreadable(f"{root} has no modules directory: not a workspace")
    workspace = Workspace(root.resolve())
    for entry in sorted(modules.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        found = _instance(entry)
        if isinstance(found, str):
            workspace.unreadable.append((entry.name, found))
        else:
            workspace.instances.append(found)
    config = root / "config" / "repository_config.json"
    if config.is_file():
        try:
            repositories = json.loads(config.read_text()).get("repositories") or []
        except (ValueError, AttributeError) as error:
            raise WorkspaceUnreadable(f"{config} is not valid: {error}") from error
        workspace.repositories = [r for r in repositories if isinstance(r, dict)]
    if instances_file is not None:
        try:
            answer = json.loads(instances_file.read_text())
            for rows in (answer.get("modules") or {}).values():
                for row in rows:
                    workspace.reported[str(row["instance_id"])] = row
        except (OSError, ValueError, AttributeError, KeyError, TypeError) as error:
            raise WorkspaceUnreadable(
                f"{instances_file} is not the module manager's answer to GET /modules/instances"
            ) from error
    return workspace


async def _plan_repositories(
    session: AsyncSession, plan: ImportPlan, workspace: Workspace, actor: Actor
) -> None:
    repositories = ModuleRepositoryRepository(session)
    for row in workspace.repositories:
        ident = str(row.get("name") or "")
        if not _REPOSITORY_ID.match(ident):
            plan.add("repository", ident or "?", "refuse", "its name is no repository id")
            continue
        kind = REPOSITORY_TYPES.get(str(row.get("type")))
        if kind is None:
            plan.add(
                "repository", ident, "refuse", f"Stellwerk has no {row.get('type')} repositories"
            )
            continue
        url = str(row.get("url") or "")
        if kind == "file":
            parts = urlsplit(url)
            url = unquote(parts.path) if parts.scheme == "file" else url
        existing = await repositories.get(ident)
        if existing is not None:
            plan.add("repository", ident, "skip", "already here", url=existing.url)
            continue
        try:
            await module_repository.check_location(kind, url)
            body = RepositoryCreate(
                id=ident,
                name=ident,
                type=kind,
                url=url,
                description=str(row["description"])[:1000] if row.get("description") else None,
                enabled=bool(row.get("enabled", True)),
                priority=min(max(int(row.get("priority") or 0), 0), 100_000),
            )
        except ValidationFailed as error:
            plan.add("repository", ident, "refuse", error.message, url=url)
            continue
        except ValueError as error:  # the body's own checks
            plan.add("repository", ident, "refuse", str(error).splitlines()[0], url=url)
            continue
        dropped = [k for k in ("api_key", "cert_fingerprint") if row.get(k)]

        async def add_repository(body: RepositoryCreate = body) -> None:
            await module_repository.create(session, actor, body)

        plan.add(
            "repository",
            ident,
            "create",
            f"a {kind} repository" + (f" (without its {' and '.join(dropped)})" if dropped else ""),
            step=add_repository,
            url=url,
        )


def _copy_in(files: ModuleFiles, source: Path, module_name: str, instance_id: str) -> None:
    """Copy an instance's directory into the modules root, all at once (idempotent). Links
    that point out of the directory are left out, as for archives."""
    target = files.instance_dir(module_name, instance_id)
    if target.exists():
        return
    files.ensure()
    root = source.resolve()

    def outside(directory: str, names: list[str]) -> list[str]:
        left_out = []
        for name in names:
            path = Path(directory) / name
            if path.is_symlink() and root not in path.resolve().parents:
                left_out.append(name)
        return left_out

    temporary = files.root / f".import-{uuid.uuid4().hex}"
    try:
        shutil.copytree(source, temporary, symlinks=True, ignore=outside)
        files.place(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _manifest(found: WorkspaceInstance, multi_instance: bool) -> dict[str, Any]:
    """A manifest for the imported instance: the module's production image, as the module
    manager runs it."""
    variant = "slim-production" if found.slim else "production"
    return Manifest(
        name=found.module_name,
        version=found.version,
        display_name=found.display_name,
        description=found.description[:2000] if found.description else None,
        multi_instance=multi_instance,
        frontend_url=f"/{found.module_name}/",
        run=RunSpec(image=f"{found.module_name}:{variant}"),
    ).model_dump(mode="json")


async def _plan_instances(
    session: AsyncSession, settings: Settings, plan: ImportPlan, workspace: Workspace
) -> None:
    for name, reason in workspace.unreadable:
        plan.add("instance", name, "refuse", reason)
    instances = ModuleInstanceRepository(session)
    files = ModuleFiles.for_settings(settings)
    by_module: dict[str, list[WorkspaceInstance]] = defaultdict(list)
    for found in workspace.instances:
        by_module[found.module_name].append(found)
    for module_name, group in sorted(by_module.items()):
        said = [workspace.reported.get(i.instance_id, {}) for i in group]
        primaries = [i.instance_id for i, s in zip(group, said, strict=True) if s.get("is_primary")]
        if primaries:
            primary_id = primaries[0]
            why = "the module manager's primary instance"
        else:
            primary_id = min(group, key=lambda i: (i.mtime, i.instance_id)).instance_id
            why = "primary: the module's oldest instance"
        flags = [s.get("permissions", {}).get("multi_instance") for s in said]
        multi = bool(next((f for f in flags if f is not None), len(group) > 1))
        current_primary = await instances.primary(module_name)
        for found in sorted(group, key=lambda i: i.instance_id):
            ident = found.instance_id
            target = files.instance_dir(module_name, ident)
            existing = await instances.get(ident)
            if existing is not None:
                if existing.module_name != module_name:
                    plan.add(
                        "instance", ident, "refuse", f"the id is {existing.module_name}'s here"
                    )
                elif not target.exists():

                    async def copy_files(found: WorkspaceInstance = found) -> None:
                        await _copy_after_commit(session, files, found)

                    plan.add(
                        "instance",
                        ident,
                        "update",
                        "its files are missing here",
                        step=copy_files,
                        module=module_name,
                    )
                else:
                    plan.add("instance", ident, "skip", "already here", module=module_name)
                continue
            primary = ident == primary_id and current_primary is None
            manifest = _manifest(found, multi)

            async def add_instance(
                found: WorkspaceInstance = found, primary: bool = primary, manifest: Any = manifest
            ) -> None:
                await instances.add(
                    ModuleInstance(
                        id=found.instance_id,
                        module_name=found.module_name,
                        repository_id=None,
                        version=found.version,
                        status="installed",
                        is_primary=primary,
                        multi_instance=manifest["multi_instance"],
                        frontend_url=manifest["frontend_url"],
                        runtime=settings.module_runtime,
                        unit_name=unit_name(
                            settings.module_stack_name, found.module_name, found.instance_id
                        ),
                        manifest=manifest,
                        runtime_state={},
                    )
                )
                await _copy_after_commit(session, files, found)

            reason = f"{module_name} {found.version}"
            if primary:
                reason += f" ({why})"
            elif ident == primary_id:
                reason += " (not primary: Stellwerk has a primary instance of it)"
            plan.add(
                "instance",
                ident,
                "create",
                reason,
                step=add_instance,
                module=module_name,
                version=found.version,
                primary=primary,
            )


async def _copy_after_commit(
    session: AsyncSession, files: ModuleFiles, found: WorkspaceInstance
) -> None:
    # After the commit, so that the modules directory never holds an instance the database
    # does not know (those are tidied away); a second import copies what a crash left out.
    async def copy() -> None:
        await asyncio.to_thread(_copy_in, files, found.path, found.module_name, found.instance_id)

    after_commit(session, copy)


async def plan_vyra(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    *,
    workspace: Path,
    instances_file: Path | None = None,
) -> ImportPlan:
    """What importing the workspace would do: repositories first, then instances."""
    found = await asyncio.to_thread(read_workspace, workspace, instances_file)
    plan = ImportPlan(SOURCE)
    await _plan_repositories(session, plan, found, actor)
    await _plan_instances(session, settings, plan, found)
    return plan
