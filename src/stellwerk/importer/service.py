"""Starting an import as an operation (`import.<source>`), and what its workflow needs to run it.

What an import reads (a file, a directory, a database URL with its password, a panel's secret, an
export's passphrase) is sealed under the installation's key before it is stored in the operation's
input: the input itself holds the source, whether it is a dry run, who started it, the sealed
parameters and a fingerprint of them. An import with the same parameters that has not finished
yet is picked up again instead of started a second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.config import Settings
from stellwerk.exceptions import ValidationFailed
from stellwerk.importer.frame import Importer, ImportFailed, digest
from stellwerk.importer.plan import ImportPlan
from stellwerk.keyfile import derive_key
from stellwerk.kit.secret import SealedSecretUnreadable, seal, unseal
from stellwerk.models import Operation
from stellwerk.operation import engine
from stellwerk.operation.repository import OperationRepository
from stellwerk.operation.service import operation as operation_service
from stellwerk.server.compute import master_key

# Sources whose import runs in the plan/apply frame (planned, then streamed batch by batch).
FRAME_SOURCES = ("nexredirect", "v2", "stellwerk")
# Sources whose import is one plan applied in one transaction (`domains` and `projects` adopt
# what runs at INWX and Coolify).
PLAN_SOURCES = ("skypanel", "vyra", "domains", "projects")
SOURCES = FRAME_SOURCES + PLAN_SOURCES
TARGET_TYPE = "import"
# Imports read files and databases as the host that started them sees them, so each host runs
# its own, one at a time, from a queue of its own.
QUEUE_PREFIX = "imports:"


def queue_for(host: str) -> str:
    return f"{QUEUE_PREFIX}{host}"[:300]


PURPOSE = "import-input:v1"
# Parameters that tune how an import runs, not what it imports.
TUNING = frozenset({"batch"})
# Parameters each source takes (anything else is refused).
PARAMETERS: dict[str, frozenset[str]] = {
    "nexredirect": frozenset({"sqlite", "owner", "batch"}),
    "v2": frozenset({"database_url", "mapping"}),
    "stellwerk": frozenset({"directory", "passphrase"}),
    "skypanel": frozenset({"database_url", "secret", "jwt_secret", "sandboxes"}),
    "vyra": frozenset({"workspace", "instances"}),
    "domains": frozenset(),
    "projects": frozenset({"user"}),
}


def kind_of(source: str) -> str:
    return f"import.{source}"


def _key(settings: Settings) -> bytes:
    return derive_key(master_key(settings), PURPOSE)


def seal_parameters(settings: Settings, parameters: dict[str, Any]) -> str:
    return seal(_key(settings), orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS).decode())


def open_parameters(settings: Settings, input: dict[str, Any]) -> dict[str, Any]:
    try:
        opened = orjson.loads(unseal(_key(settings), str(input["parameters"])))
    except SealedSecretUnreadable as error:
        raise ImportFailed(
            "The import's parameters cannot be opened with this installation's key"
        ) from error
    return dict(opened)


def actor_of(input: dict[str, Any]) -> Actor:
    data = input.get("actor") or {}
    return Actor(
        user_id=data.get("user_id"),
        name=str(data.get("name") or "cli"),
        credential=str(data.get("credential") or "cli"),
        ip=data.get("ip"),
    )


def build(source: str, parameters: dict[str, Any], settings: Settings) -> Importer:
    """The importer of a frame source, from its parameters."""
    if source == "nexredirect":
        from stellwerk.importer.nexredirect import HIT_BATCH, NexRedirectImporter

        return NexRedirectImporter(
            Path(parameters["sqlite"]),
            owner=parameters.get("owner"),
            batch=int(parameters.get("batch") or HIT_BATCH),
            settings=settings,
        )
    if source == "v2":
        from stellwerk.importer.v2 import V2Importer

        mapping = parameters.get("mapping")
        return V2Importer(
            str(parameters["database_url"]), mapping=Path(mapping) if mapping else None
        )
    if source == "stellwerk":
        from stellwerk.importer.stellwerk import StellwerkImporter

        return StellwerkImporter(
            Path(parameters["directory"]), settings, passphrase=parameters.get("passphrase")
        )
    raise ValidationFailed(f"No importer runs {source} in the frame", field="source")


async def plan_of(
    source: str,
    parameters: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
) -> ImportPlan:
    """The plan of a plan source, from its parameters."""
    if source == "skypanel":
        from stellwerk.importer import skypanel

        return await skypanel.plan_skypanel(
            session,
            settings,
            database_url=str(parameters["database_url"]),
            secret=parameters.get("secret"),
            jwt_secret=parameters.get("jwt_secret"),
            sandboxes=dict(parameters.get("sandboxes") or {}),
        )
    if source == "vyra":
        from stellwerk.importer import vyra

        instances = parameters.get("instances")
        return await vyra.plan_vyra(
            session,
            settings,
            actor,
            workspace=Path(parameters["workspace"]),
            instances_file=Path(instances) if instances else None,
        )
    if source in ("domains", "projects"):
        from stellwerk.importer import adopt

        # The providers are asked first, before the session's transaction begins.
        if source == "domains":
            return await adopt.plan_domains(session, settings)
        from stellwerk.server.service import instance_service

        user = parameters.get("user")
        owner_id = (await instance_service.owner(session, str(user))).id if user else None
        return await adopt.plan_projects(session, settings, owner_user_id=owner_id)
    raise ValidationFailed(f"No importer plans {source}", field="source")


async def recent(session: AsyncSession, limit: int = 10) -> Sequence[Operation]:
    """The newest import operations (dry runs included), for the Import page."""
    return await OperationRepository(session).recent([kind_of(s) for s in SOURCES], limit)


async def start(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    *,
    source: str,
    parameters: dict[str, Any],
    dry_run: bool,
) -> tuple[Operation, bool]:
    """Start the import of `source` (a dry run or the import itself) as an operation, or return
    the same import (same parameters) that has not finished yet. Returns the operation and
    whether it was started now."""
    if source not in SOURCES:
        raise ValidationFailed(f"Stellwerk imports no source named {source}", field="source")
    unknown = set(parameters) - PARAMETERS[source]
    if unknown:
        raise ValidationFailed(
            f"The import of {source} takes no {', '.join(sorted(unknown))}", field="parameters"
        )
    kind = kind_of(source)
    # The fingerprint tells the same import apart without holding its parameters in the clear.
    # (How many hits go into one transaction does not make another import.)
    identity = {k: v for k, v in parameters.items() if k not in TUNING}
    fingerprint = digest({"key": _key(settings).hex(), "dry_run": dry_run, **identity})[:32]
    target_id = f"{source}:{'dry' if dry_run else 'apply'}:{fingerprint}"
    pending = await OperationRepository(session).unfinished(kind, TARGET_TYPE, target_id)
    if pending is not None:
        return pending, False
    operation, created = await operation_service.start(
        session,
        actor,
        kind=kind,
        input={
            "source": source,
            "dry_run": dry_run,
            "actor": asdict(actor),
            "parameters": seal_parameters(settings, parameters),
        },
        target_type=TARGET_TYPE,
        target_id=target_id,
        idempotency_key=f"{kind}:{uuid.uuid4()}",
        message="Dry run queued" if dry_run else "Import queued",
        queue=queue_for(engine.this_host()),
    )
    return operation, created


# What the Import page asks for, per source: the place to read (`location`) and the extras.
LOCATIONS = {
    "nexredirect": "sqlite",
    "v2": "database_url",
    "skypanel": "database_url",
    "vyra": "workspace",
    "stellwerk": "directory",
}


def parameters_for(
    source: str,
    *,
    location: str,
    extra: dict[str, str],
    sandboxes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The parameters of an import started on the Import page: `location` is a path on the
    server (or a database URL), `extra` the optional fields the source takes; checked here, so
    a mistake is said before anything is queued."""
    if source not in SOURCES:
        raise ValidationFailed(f"Stellwerk imports no source named {source}", field="source")
    location = location.strip()
    if not location:
        raise ValidationFailed("Say where to read from", field="location")

    def optional(name: str) -> str | None:
        return extra.get(name, "").strip() or None

    def path(value: str, field: str, *, directory: bool) -> str:
        found = Path(value)
        if not found.is_absolute():
            raise ValidationFailed(f"{value} is not an absolute path on the server", field=field)
        if directory and not found.is_dir():
            raise ValidationFailed(f"{value} is no directory on the server", field=field)
        if not directory and not found.is_file():
            raise ValidationFailed(f"{value} is no file on the server", field=field)
        return str(found)

    def database_url(value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValidationFailed(
                "A PostgreSQL URL: postgresql://user:pw@host/db", field="location"
            )
        return value

    if source == "nexredirect":
        return {
            "sqlite": path(location, "location", directory=False),
            "owner": optional("owner"),
            "batch": 5000,
        }
    if source == "v2":
        mapping = optional("mapping")
        if mapping:
            from stellwerk.importer.v2 import load_mapping

            mapping = path(mapping, "mapping", directory=False)
            load_mapping(Path(mapping))
        return {"database_url": database_url(location), "mapping": mapping}
    if source == "skypanel":
        return {
            "database_url": database_url(location),
            "secret": optional("secret"),
            "jwt_secret": optional("jwt_secret"),
            "sandboxes": dict(sandboxes or {}),
        }
    if source == "vyra":
        instances = optional("instances")
        return {
            "workspace": path(location, "location", directory=True),
            "instances": path(instances, "instances", directory=False) if instances else None,
        }
    directory = path(location, "location", directory=True)
    if not (Path(directory) / "manifest.json").is_file():
        raise ValidationFailed(f"{directory} holds no Stellwerk export", field="location")
    return {"directory": directory, "passphrase": optional("passphrase")}


def summary(result: dict[str, Any]) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """An import operation's report as a page shows it: per entity the count of each action,
    and the entries worth a look (refused, or skipped for a reason other than being
    unchanged)."""
    counts: dict[str, dict[str, int]] = {}
    if result.get("format") == "report":
        counts = {str(k): dict(v) for k, v in (result.get("counts") or {}).items()}
    else:
        for entry in result.get("entries") or ():
            numbers = counts.setdefault(
                str(entry["entity"]), {"create": 0, "update": 0, "skip": 0, "refuse": 0}
            )
            numbers[str(entry["action"])] = numbers.get(str(entry["action"]), 0) + 1
    notable = [
        entry
        for entry in result.get("entries") or ()
        if entry["action"] == "refuse"
        or (entry["action"] == "skip" and (entry.get("reason") or "") != "unchanged")
    ]
    return counts, notable
