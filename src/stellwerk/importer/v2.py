"""The V2 license server: its PostgreSQL database, read in a read-only transaction.

The V2 server's schema is documented only by the tables and fields its API names, so the importer
reads them through a mapping (`DEFAULT_MAPPING`, adjustable with a TOML file: for every entity the
table and, per Stellwerk field, the source column). The system API key is stored in plain text
there; Stellwerk keeps its SHA-256, so the same `AF-…` key keeps working. License keys, devices
(activations) and open sessions come along unchanged, so a client built against the old server
verifies, activates and keeps its session without noticing the move.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from sqlalchemy import select

from stellwerk.identity.repository import SystemApiKeyRepository
from stellwerk.identity.service import API_KEY_PATTERN
from stellwerk.importer.frame import ImportContext, Importer, ImportFailed, digest
from stellwerk.kit.db import Base
from stellwerk.kit.secret import hash_token
from stellwerk.kit.time import utc_now
from stellwerk.license.schemas import LICENSE_KEY_PATTERN
from stellwerk.models import (
    ClientConfig,
    Customer,
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
    License,
    LicenseActivation,
    LicenseSession,
    Release,
    Resource,
    SystemApiKey,
)

SOURCE = "v2"
M = TypeVar("M", bound=Base)

# Entity → the source table and, per Stellwerk field, the source column ("" when it has none).
DEFAULT_MAPPING: dict[str, dict[str, Any]] = {
    "system_api_key": {"table": "system_api_key", "columns": {"id": "id", "api_key": "api_key"}},
    "client_configs": {
        "table": "client_configs",
        "columns": {
            "id": "id",
            "name": "client_name",
            "current_version": "current_version",
            "heartbeat_interval": "heartbeat_interval",
            "session_timeout": "session_timeout",
        },
    },
    "customers": {"table": "customers", "columns": {"id": "id", "name": "name", "email": "email"}},
    "licenses": {
        "table": "licenses",
        "columns": {
            "id": "id",
            "license_key": "license_key",
            "customer_id": "customer_id",
            "license_type": "license_type",
            "valid_from": "valid_from",
            "valid_until": "valid_until",
            "max_activations": "max_activations",
            "max_users": "max_users",
            "is_active": "is_active",
        },
    },
    "activations": {
        "table": "activations",
        "columns": {
            "id": "id",
            "license_id": "license_id",
            "hardware_hash": "hardware_hash",
            "machine_name": "machine_name",
            "app_version": "app_version",
            "activated_at": "activated_at",
            "last_heartbeat": "last_heartbeat",
            "is_active": "is_active",
        },
    },
    "sessions": {
        "table": "sessions",
        "columns": {
            "id": "id",
            "license_id": "license_id",
            "session_token": "session_token",
            "client_config_id": "",
            "hardware_hash": "hardware_hash",
            "machine_id": "machine_id",
            "version": "version",
            "started_at": "started_at",
            "last_heartbeat": "last_heartbeat",
            "ended_at": "ended_at",
        },
    },
    "versions": {
        "table": "versions",
        "columns": {
            "id": "id",
            "version": "version",
            "release_date": "release_date",
            "download_url": "download_url",
            "release_notes": "release_notes",
        },
    },
    "resources": {
        "table": "resources",
        "columns": {
            "id": "id",
            "resource_type": "type",
            "identifier": "identifier",
            "status": "status",
            "license_id": "license_id",
            "allocated_at": "allocated_at",
        },
    },
    "lead_institutions": {"table": "lead_institutions", "columns": {"id": "id", "name": "name"}},
    "lead_contacts": {
        "table": "lead_contacts",
        "columns": {
            "id": "id",
            "institution_id": "institution_id",
            "first_name": "first_name",
            "last_name": "last_name",
            "position": "position",
        },
    },
    "lead_contact_details": {
        "table": "lead_contact_details",
        "columns": {
            "id": "id",
            "contact_id": "contact_id",
            "detail_type": "type",
            "value": "value",
            "label": "label",
        },
    },
    # One row per version of a note; `note_id` groups the versions of one note ("" when every
    # row is a note of its own).
    "lead_notes": {
        "table": "lead_notes",
        "columns": {
            "id": "id",
            "note_id": "note_id",
            "contact_id": "contact_id",
            "content": "content",
            "version": "version",
            "created_at": "created_at",
            "created_by": "created_by",
        },
    },
}
REQUIRED = {"id"}


def load_mapping(path: Path | None) -> dict[str, dict[str, Any]]:
    """The default mapping with the file's tables and columns laid over it."""
    mapping = copy.deepcopy(DEFAULT_MAPPING)
    if path is None:
        return mapping
    try:
        given = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ImportFailed(f"The mapping file cannot be read: {error}") from error
    for entity, settings in given.items():
        if entity not in mapping or not isinstance(settings, dict):
            raise ImportFailed(f"The mapping names an unknown entity: {entity}")
        if "table" in settings:
            mapping[entity]["table"] = str(settings["table"])
        for field, column in (settings.get("columns") or {}).items():
            if field not in mapping[entity]["columns"]:
                raise ImportFailed(f"The mapping names an unknown field: {entity}.{field}")
            mapping[entity]["columns"][field] = str(column)
    return mapping


class V2Importer(Importer):
    source = SOURCE

    def __init__(self, database_url: str, *, mapping: Path | None = None) -> None:
        self.database_url = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.mapping = load_mapping(mapping)
        self.mapping_file = mapping

    def describe(self) -> dict[str, Any]:
        info = psycopg.conninfo.conninfo_to_dict(self.database_url)
        return {
            "host": info.get("host"),
            "database": info.get("dbname"),
            "mapping": str(self.mapping_file) if self.mapping_file else None,
        }

    @contextmanager
    def _open(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        try:
            connection = psycopg.connect(
                self.database_url, row_factory=dict_row, connect_timeout=10
            )
        except psycopg.Error as error:
            raise ImportFailed(f"The V2 database cannot be reached: {error}") from error
        connection.read_only = True
        with connection:
            yield connection

    def _rows(
        self, source: psycopg.Connection[dict[str, Any]], entity: str
    ) -> list[dict[str, Any]] | None:
        """The entity's rows with Stellwerk's field names; None when its table is absent."""
        table = self.mapping[entity]["table"]
        columns = {f: c for f, c in self.mapping[entity]["columns"].items() if c}
        if not table:
            return None
        present = {
            row["column_name"]
            for row in source.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (table,),
            )
        }
        if not present:
            return None
        missing = sorted(c for c in columns.values() if c not in present)
        if missing:
            raise ImportFailed(
                f"The V2 table {table} has no column {missing[0]}; adjust the mapping "
                f"({entity}.columns)"
            )
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(sql.Identifier(c), sql.Identifier(f))
                for f, c in columns.items()
            ),
            sql.Identifier(table),
            sql.Identifier(columns["id"]),
        )
        rows = source.execute(query).fetchall()
        fields = self.mapping[entity]["columns"]
        return [{f: row.get(f) for f in fields} for row in rows]

    def _each(
        self, ctx: ImportContext, source: psycopg.Connection[dict[str, Any]], entity: str
    ) -> list[dict[str, Any]]:
        rows = self._rows(source, entity)
        if rows is None:
            table = self.mapping[entity]["table"] or "(none)"
            ctx.skipped(entity, table, "no such table in the V2 database")
            return []
        return rows

    async def plan(self, ctx: ImportContext) -> None:
        with self._open() as source:
            await self._api_key(ctx, source)
            clients = await self._clients(ctx, source)
            customers = await self._simple(
                ctx, source, "customers", Customer, lambda r: r["name"], self._customer
            )
            licenses = await self._licenses(ctx, source, customers)
            await self._activations(ctx, source, licenses)
            await self._sessions(ctx, source, licenses, clients)
            await self._versions(ctx, source)
            await self._resources(ctx, source, licenses)
            await self._leads(ctx, source)

    # The generic step ----------------------------------------------------------------------

    async def _sync(
        self,
        ctx: ImportContext,
        entity: str,
        key: object,
        label: str,
        model: type[M],
        values: dict[str, Any],
        conflict: Callable[[], Awaitable[M | None]] | None = None,
        adopt: bool = False,
    ) -> M | None:
        """Create, update or skip one object. `conflict` finds a Stellwerk object that holds
        what this one would (a unique name or key): refused, or with `adopt` taken over."""
        fingerprint = digest(values)
        target = await ctx.target(entity, key)
        record = await ctx.session.get(model, int(target)) if target else None
        if record is None and conflict is not None:
            existing = await conflict()
            if existing is not None and not adopt:
                ctx.refused(entity, label, "exists in Stellwerk already, not from this import")
                return None
            record = existing
        if record is not None:
            if target is not None and await ctx.unchanged(entity, key, fingerprint):
                ctx.skipped(entity, label, "unchanged", getattr(record, "id", None))
                return record
            for name, value in values.items():
                setattr(record, name, value)
            await ctx.session.flush()
            await ctx.remember(entity, key, getattr(record, "id", ""), fingerprint)
            ctx.updated(entity, label, getattr(record, "id", None))
            return record
        record = model(**values)
        ctx.session.add(record)
        await ctx.session.flush()
        await ctx.remember(entity, key, getattr(record, "id", ""), fingerprint)
        ctx.created(entity, label, getattr(record, "id", None))
        return record

    async def _simple(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        entity: str,
        model: type[M],
        label: Callable[[dict[str, Any]], object],
        values: Callable[[dict[str, Any]], dict[str, Any] | str],
    ) -> dict[Any, M]:
        done: dict[Any, M] = {}
        for row in self._each(ctx, source, entity):
            name = str(label(row))
            result = values(row)
            if isinstance(result, str):
                ctx.refused(entity, name, result)
                continue
            record = await self._sync(ctx, entity, row["id"], name, model, result)
            if record is not None:
                done[row["id"]] = record
        return done

    # Entities ------------------------------------------------------------------------------

    async def _api_key(
        self, ctx: ImportContext, source: psycopg.Connection[dict[str, Any]]
    ) -> None:
        rows = self._each(ctx, source, "system_api_key")
        if not rows:
            return
        row = rows[-1]  # the newest, should there be more than one
        plain = str(row["api_key"] or "").strip()
        if not API_KEY_PATTERN.fullmatch(plain):
            ctx.refused("system_api_key", "AF-…", "not an AF-YYYY-<32 characters> key")
            return
        label = plain[:12] + "…"
        fingerprint = digest(hash_token(plain))
        repository = SystemApiKeyRepository(ctx.session)
        active = await repository.get_active()
        if await ctx.unchanged("system_api_key", row["id"], fingerprint) or (
            active is not None and active.key_hash == hash_token(plain)
        ):
            ctx.skipped("system_api_key", label, "unchanged", active.id if active else None)
            await ctx.remember(
                "system_api_key", row["id"], active.id if active else "", fingerprint
            )
            return
        await repository.revoke_all(utc_now())
        key = await repository.add(SystemApiKey(key_hash=hash_token(plain), prefix=plain[:12]))
        await ctx.remember("system_api_key", row["id"], key.id, fingerprint)
        if active is None:
            ctx.created("system_api_key", label, key.id)
        else:
            ctx.updated("system_api_key", label, key.id, "replaces Stellwerk's own key")

    async def _clients(
        self, ctx: ImportContext, source: psycopg.Connection[dict[str, Any]]
    ) -> dict[Any, ClientConfig]:
        done: dict[Any, ClientConfig] = {}
        for row in self._each(ctx, source, "client_configs"):
            name = str(row["name"] or "").strip()[:100]
            if not name:
                ctx.refused("client_configs", row["id"], "has no name")
                continue
            values: dict[str, Any] = {"name": name}
            for field in ("current_version", "heartbeat_interval", "session_timeout"):
                if row[field] is not None:
                    values[field] = row[field]

            async def same_name(name: str = name) -> ClientConfig | None:
                return await ctx.session.scalar(
                    select(ClientConfig).where(ClientConfig.name == name)
                )

            # Stellwerk creates the default client itself: the V2 settings replace its own.
            record = await self._sync(
                ctx, "client_configs", row["id"], name, ClientConfig, values, same_name, adopt=True
            )
            if record is not None:
                done[row["id"]] = record
        return done

    @staticmethod
    def _customer(row: dict[str, Any]) -> dict[str, Any] | str:
        name = str(row["name"] or "").strip()[:200]
        if not name:
            return "has no name"
        return {"name": name, "email": (row["email"] or None) and str(row["email"])[:320]}

    async def _licenses(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        customers: dict[Any, Customer],
    ) -> dict[Any, License]:
        done: dict[Any, License] = {}
        for row in self._each(ctx, source, "licenses"):
            key = str(row["license_key"] or "").strip().upper()
            if not LICENSE_KEY_PATTERN.fullmatch(key):
                ctx.refused("licenses", key or row["id"], "not a XXXX-XXXX-XXXX-XXXX key")
                continue
            customer = customers.get(row["customer_id"])
            if customer is None:
                ctx.refused("licenses", key, "its customer was not imported")
                continue
            values: dict[str, Any] = {
                "license_key": key,
                "customer_id": customer.id,
                "license_type": str(row["license_type"] or "perpetual")[:20],
                "valid_from": _date(row["valid_from"]) or utc_now().date(),
                "valid_until": _date(row["valid_until"]),
                "max_activations": int(row["max_activations"] or 1),
                "max_users": int(row["max_users"] or 1),
                "is_active": True if row["is_active"] is None else bool(row["is_active"]),
            }

            async def same_key(key: str = key) -> License | None:
                return await ctx.session.scalar(select(License).where(License.license_key == key))

            record = await self._sync(ctx, "licenses", row["id"], key, License, values, same_key)
            if record is not None:
                done[row["id"]] = record
        return done

    async def _activations(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        licenses: dict[Any, License],
    ) -> None:
        for row in self._each(ctx, source, "activations"):
            license = licenses.get(row["license_id"])
            label = f"{row['hardware_hash']} ({row['id']})"
            if license is None:
                ctx.refused("activations", label, "its license was not imported")
                continue
            active = True if row["is_active"] is None else bool(row["is_active"])
            values: dict[str, Any] = {
                "license_id": license.id,
                "hardware_hash": str(row["hardware_hash"])[:255],
                "machine_name": row["machine_name"],
                "app_version": row["app_version"],
                "activated_at": row["activated_at"] or utc_now(),
                "last_heartbeat": row["last_heartbeat"] or row["activated_at"] or utc_now(),
                "is_active": active,
            }

            async def same_device(
                license_id: int = license.id, hardware: str = values["hardware_hash"]
            ) -> LicenseActivation | None:
                return await ctx.session.scalar(
                    select(LicenseActivation).where(
                        LicenseActivation.license_id == license_id,
                        LicenseActivation.hardware_hash == hardware,
                    )
                )

            await self._sync(
                ctx, "activations", row["id"], label, LicenseActivation, values, same_device
            )

    async def _sessions(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        licenses: dict[Any, License],
        clients: dict[Any, ClientConfig],
    ) -> None:
        rows = self._each(ctx, source, "sessions")
        default = next(iter(clients.values()), None) or await ctx.session.scalar(
            select(ClientConfig).order_by(ClientConfig.id)
        )
        for row in rows:
            label = f"session {row['id']}"
            license = licenses.get(row["license_id"])
            if license is None:
                ctx.refused("sessions", label, "its license was not imported")
                continue
            if row["ended_at"] is not None:
                ctx.skipped("sessions", label, "ended before the move")
                continue
            client = clients.get(row["client_config_id"]) or default
            if client is None or not row["session_token"]:
                ctx.refused("sessions", label, "no client configuration or no token")
                continue
            values: dict[str, Any] = {
                "token_hash": hash_token(str(row["session_token"])),
                "license_id": license.id,
                "client_config_id": client.id,
                "machine_id": row["machine_id"],
                "hardware_hash": str(row["hardware_hash"] or "")[:255],
                "version": row["version"],
                "started_at": row["started_at"] or utc_now(),
                "last_heartbeat": row["last_heartbeat"] or row["started_at"] or utc_now(),
            }
            await self._sync(ctx, "sessions", row["id"], label, LicenseSession, values)

    async def _versions(
        self, ctx: ImportContext, source: psycopg.Connection[dict[str, Any]]
    ) -> None:
        for row in self._each(ctx, source, "versions"):
            version = str(row["version"] or "").strip()[:64]
            if not version:
                ctx.refused("versions", row["id"], "has no version")
                continue
            values: dict[str, Any] = {
                "version": version,
                "channel": "stable",
                "release_date": _date(row["release_date"]) or utc_now().date(),
                "download_url": row["download_url"],
                "release_notes": row["release_notes"],
            }

            async def same_version(version: str = version) -> Release | None:
                return await ctx.session.scalar(
                    select(Release).where(Release.channel == "stable", Release.version == version)
                )

            await self._sync(ctx, "versions", row["id"], version, Release, values, same_version)

    async def _resources(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        licenses: dict[Any, License],
    ) -> None:
        for row in self._each(ctx, source, "resources"):
            kind = str(row["resource_type"] or "").strip()[:40]
            identifier = str(row["identifier"] or "").strip()[:255]
            label = f"{kind}:{identifier}"
            if not kind or not identifier:
                ctx.refused("resources", row["id"], "has no type or identifier")
                continue
            license = licenses.get(row["license_id"]) if row["license_id"] is not None else None
            values: dict[str, Any] = {
                "resource_type": kind,
                "identifier": identifier,
                "status": "allocated" if license else str(row["status"] or "available")[:20],
                "license_id": license.id if license else None,
                "allocated_at": row["allocated_at"] if license else None,
            }
            if values["status"] == "allocated" and license is None:
                values["status"] = "available"

            async def same_resource(
                kind: str = kind, identifier: str = identifier
            ) -> Resource | None:
                return await ctx.session.scalar(
                    select(Resource).where(
                        Resource.resource_type == kind, Resource.identifier == identifier
                    )
                )

            await self._sync(ctx, "resources", row["id"], label, Resource, values, same_resource)

    async def _leads(self, ctx: ImportContext, source: psycopg.Connection[dict[str, Any]]) -> None:
        institutions = await self._simple(
            ctx,
            source,
            "lead_institutions",
            LeadInstitution,
            lambda r: r["name"],
            lambda r: {"name": str(r["name"] or "")[:200]} if r["name"] else "has no name",
        )
        contacts: dict[Any, LeadContact] = {}
        for row in self._each(ctx, source, "lead_contacts"):
            label = f"{row['first_name']} {row['last_name']}"
            institution = institutions.get(row["institution_id"])
            if institution is None:
                ctx.refused("lead_contacts", label, "its institution was not imported")
                continue
            values = {
                "institution_id": institution.id,
                "first_name": str(row["first_name"] or "")[:100],
                "last_name": str(row["last_name"] or "")[:100],
                "position": row["position"],
            }
            record = await self._sync(ctx, "lead_contacts", row["id"], label, LeadContact, values)
            if record is not None:
                contacts[row["id"]] = record
        for row in self._each(ctx, source, "lead_contact_details"):
            contact = contacts.get(row["contact_id"])
            label = str(row["value"])
            if contact is None:
                ctx.refused("lead_contact_details", label, "its contact was not imported")
                continue
            values = {
                "contact_id": contact.id,
                "detail_type": str(row["detail_type"] or "email")[:10],
                "value": str(row["value"] or "")[:320],
                "label": row["label"],
            }
            await self._sync(
                ctx, "lead_contact_details", row["id"], label, LeadContactDetail, values
            )
        await self._notes(ctx, source, contacts)

    async def _notes(
        self,
        ctx: ImportContext,
        source: psycopg.Connection[dict[str, Any]],
        contacts: dict[Any, LeadContact],
    ) -> None:
        """Rows are versions; those with the same `note_id` are one note's history."""
        notes: dict[Any, LeadNote] = {}
        for row in self._each(ctx, source, "lead_notes"):
            label = f"note {row['id']}"
            contact = contacts.get(row["contact_id"])
            if contact is None:
                ctx.refused("lead_notes", label, "its contact was not imported")
                continue
            group = row["note_id"] if row["note_id"] is not None else row["id"]
            version = int(row["version"] or 1)
            note = notes.get(group)
            if note is None:
                note = await self._sync(
                    ctx,
                    "lead_note",
                    group,
                    f"note {group}",
                    LeadNote,
                    {"contact_id": contact.id, "current_version": version},
                )
                if note is None:
                    continue
                notes[group] = note
            elif version > note.current_version:
                note.current_version = version
            values = {
                "note_id": note.id,
                "version": version,
                "content": str(row["content"] or ""),
                "created_at": row["created_at"] or utc_now(),
                "created_by": str(row["created_by"] or "v2")[:150],
            }
            await self._sync(ctx, "lead_notes", row["id"], label, LeadNoteVersion, values)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
