"""Stellwerk's own export and its import: a backup, and the way between databases (SQLite →
PostgreSQL) and installations.

`export` writes one JSON Lines file per table (`<table>.jsonl`, one row per line, in primary key
order) and `manifest.json`. Secrets (password and token hashes, provider API keys, root
passwords, the license signing key, webhook endpoints with their signing secrets) are left out
unless asked for; then each is encrypted with a key derived from a passphrase (scrypt, Fernet),
and the secrets encrypted at rest under the installation's own key are encrypted again under the
receiving installation's key on import. The manifest names the tables an export without secrets
left out, and the import reports them.

`StellwerkImporter` reads such a directory back. Rows keep their ids: a row whose id is free is
created, one that is the same already skipped, one that differs (the first-start admin, the API
key and the default client of a fresh installation) replaced by the exported row.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import Table, func, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeDecorator, TypeEngine

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.importer.frame import Action, ImportContext, Importer, ImportFailed, StreamContext
from stellwerk.kit.db import Base
from stellwerk.kit.secret import hash_password, random_password, seal, unseal
from stellwerk.license import signing
from stellwerk.notify.service import secret_key as webhook_secret_key
from stellwerk.server.compute import master_key, secret_box
from stellwerk.system.secrets import InstallationSecrets, InstallationSecretUnreadable

SOURCE = "stellwerk"
FORMAT = "stellwerk-export"
VERSION = 1
BATCH = 1000
CHANGES = (Action.CREATE, Action.UPDATE)
# Per-session, per-process or derived data a new installation makes for itself, and the
# deliveries of webhook events (the queue of the installation that made them).
SKIPPED_TABLES = frozenset(
    {
        "web_sessions",
        "redirect_salts",
        "redirect_daily_visitors",
        "module_feed_tickets",
        "process_heartbeats",
        "workers",
        "notification_deliveries",
    }
)
# Secret columns: hashes travel as they are (encrypted with the passphrase), values encrypted at
# rest under the installation's key travel as plain text inside the passphrase's encryption.
HASHES = {
    ("users", "password_hash"),
    ("api_tokens", "token_hash"),
    ("system_api_keys", "key_hash"),
    ("license_sessions", "token_hash"),
}
AT_REST = {
    ("service_providers", "api_key_encrypted"),
    ("vps_instances", "root_password_encrypted"),
    ("installation_secrets", "encrypted_value"),
    ("webhook_endpoints", "secret_encrypted"),
}
SECRETS = HASHES | AT_REST
USE_MARKS = frozenset({"last_used_at", "last_login_at", "last_heartbeat"})
# Rows that make no sense without their secret are left out of an export without secrets.
NEED_SECRET = {
    "api_tokens",
    "system_api_keys",
    "license_sessions",
    "installation_secrets",
    "webhook_endpoints",
}
# What the import says of the rows an export without secrets left out.
LEFT_OUT = {
    "api_tokens": "API tokens are made anew",
    "system_api_keys": "the API key is made anew",
    "license_sessions": "clients open their sessions again",
    "installation_secrets": "this installation keeps its own license signing key (offline "
    "license files signed before the move do not verify here)",
    "webhook_endpoints": "webhook endpoints are added again here, with new signing secrets",
}


def tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _kind(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    return column_type.impl if isinstance(column_type, TypeDecorator) else column_type  # type: ignore[return-value]


def to_json(table: Table, row: Any) -> dict[str, Any]:
    """A row as JSON values: times in ISO 8601, bytes in base64."""
    data: dict[str, Any] = {}
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        data[column.name] = value
    return data


def from_json(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in data:
            continue
        value = data[column.name]
        kind = _kind(column.type)
        if value is not None:
            if isinstance(kind, sqltypes.DateTime):
                value = dt.datetime.fromisoformat(value)
            elif isinstance(kind, sqltypes.Date):
                value = dt.date.fromisoformat(value)
            elif isinstance(kind, sqltypes.LargeBinary):
                value = base64.b64decode(value)
            elif isinstance(kind, sqltypes.Uuid):
                value = uuid.UUID(value)
        row[column.name] = value
    return row


class AtRest:
    """The secrets an installation keeps encrypted under its own key, opened (to be sealed
    with the passphrase on export) and encrypted again (under the receiving installation's key
    on import). Values are as the export writes them: binary columns in base64."""

    def __init__(self, settings: Settings) -> None:
        self.box = secret_box(settings)
        self.installation = InstallationSecrets(master_key(settings))
        self.webhooks = webhook_secret_key(settings)

    def reveal(self, table: str, row: dict[str, Any], column: str) -> str:
        value = row[column]
        if table == "installation_secrets":
            plain = self.installation.decrypt(str(row["name"]), base64.b64decode(value))
            return base64.b64encode(plain).decode()
        if table == "webhook_endpoints":
            return unseal(self.webhooks, str(value))
        return self.box.decrypt(value)

    def conceal(self, table: str, row: dict[str, Any], plain: str) -> str:
        if table == "installation_secrets":
            sealed = self.installation.encrypt(str(row["name"]), base64.b64decode(plain))
            return base64.b64encode(sealed).decode()
        if table == "webhook_endpoints":
            return seal(self.webhooks, plain)
        return self.box.encrypt(plain)


class Passphrase:
    """Fernet under a key derived from the passphrase and the export's salt."""

    def __init__(self, passphrase: str, salt: bytes) -> None:
        if len(passphrase) < 12:
            raise ImportFailed("The passphrase needs at least 12 characters")
        key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
        self.fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        try:
            return self.fernet.decrypt(value.encode()).decode()
        except InvalidToken as error:
            raise ImportFailed("The passphrase does not open this export's secrets") from error


async def export(
    database: Database,
    settings: Settings,
    directory: Path,
    *,
    passphrase: str | None = None,
) -> dict[str, Any]:
    """Write the installation to `directory`; returns the manifest."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    salt = os.urandom(16)
    sealer = Passphrase(passphrase, salt) if passphrase is not None else None
    at_rest = AtRest(settings)
    counts: dict[str, int] = {}
    left_out: dict[str, int] = {}
    async with database.engine.connect() as connection:
        revision = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
        for table in tables():
            if sealer is None and table.name in NEED_SECRET:
                rows = await connection.scalar(select(func.count()).select_from(table))
                if rows:
                    left_out[str(table.name)] = int(rows)
                continue
            count = 0
            order = list(table.primary_key.columns)
            with (directory / f"{table.name}.jsonl").open("wb") as out:
                result = await connection.stream(select(table).order_by(*order))
                async for row in result.mappings():
                    data = to_json(table, row)
                    for name in list(data):
                        if (table.name, name) not in SECRETS or data[name] is None:
                            continue
                        if sealer is None:
                            data[name] = None
                        elif (table.name, name) in AT_REST:
                            data[name] = sealer.seal(at_rest.reveal(table.name, data, name))
                        else:
                            data[name] = sealer.seal(data[name])
                    out.write(orjson.dumps(data) + b"\n")
                    count += 1
            counts[str(table.name)] = count
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "schema": revision,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "secrets": sealer is not None,
        "salt": base64.b64encode(salt).decode() if sealer else None,
        "tables": counts,
        # Rows an export without secrets left out, by table.
        "left_out": left_out,
    }
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


class StellwerkImporter(Importer):
    source = SOURCE

    def __init__(
        self, directory: Path, settings: Settings, *, passphrase: str | None = None
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.passphrase = passphrase
        self.manifest: dict[str, Any] = {}
        self.opener: Passphrase | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "exported_at": self.manifest.get("exported_at"),
            "secrets": self.manifest.get("secrets"),
        }

    def _read_manifest(self) -> None:
        try:
            manifest = orjson.loads((self.directory / "manifest.json").read_bytes())
        except (OSError, orjson.JSONDecodeError) as error:
            raise ImportFailed(f"{self.directory} holds no Stellwerk export: {error}") from error
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise ImportFailed(f"{self.directory} holds no Stellwerk export this version reads")
        if manifest.get("secrets"):
            if self.passphrase is None:
                raise ImportFailed("This export holds secrets: give its passphrase")
            self.opener = Passphrase(self.passphrase, base64.b64decode(manifest["salt"]))
        self.manifest = manifest

    async def plan(self, ctx: ImportContext) -> None:
        """Check the export; its rows are compared and written batch by batch (`stream`)."""
        self._read_manifest()
        here = (await ctx.session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        there = self.manifest.get("schema")
        if there != here:
            # Columns one side lacks take their defaults; everything else reads the same.
            ctx.skipped("schema", str(there), f"exported with schema {there}, this one is {here}")
        for table, rows in sorted((self.manifest.get("left_out") or {}).items()):
            reason = LEFT_OUT.get(table, "not in the export")
            ctx.skipped(table, f"{rows} row(s)", f"exported without secrets: {reason}")

    def _lines(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        path = self.directory / f"{table.name}.jsonl"
        if not path.exists():
            return
        batch: list[dict[str, Any]] = []
        with path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    batch.append(orjson.loads(line))
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _secrets(self, table: Table, data: dict[str, Any]) -> dict[str, Any] | None:
        """Open the row's secrets; None when the row cannot do without one it lacks."""
        at_rest = AtRest(self.settings)
        box = at_rest.box
        for name in list(data):
            if (table.name, name) not in SECRETS:
                continue
            value = data[name]
            if value is None:
                if (table.name, name) == ("users", "password_hash"):
                    # Exported without secrets: the user sets a new password (`stellwerk admin`).
                    data[name] = hash_password(random_password(32))
                elif (table.name, name) == ("service_providers", "api_key_encrypted"):
                    data[name] = box.encrypt("")
                continue
            if self.opener is None:
                return None
            plain = self.opener.open(value)
            at = (table.name, name) in AT_REST
            data[name] = at_rest.conceal(table.name, data, plain) if at else plain
        return data

    async def stream(self, ctx: StreamContext) -> None:
        if not self.manifest:
            self._read_manifest()
        for table in tables():
            for batch in self._lines(table):
                # On a dry run each batch is compared with what is stored, nothing written.
                async with ctx.batch() as session:
                    await self._batch(ctx, session, table, batch)
            ctx.progress(f"{table.name}: done")
        if not ctx.dry_run:
            async with ctx.batch() as session:
                await self._sequences(session)
            secrets = ctx.report.streamed.get("installation_secrets", Counter[str]())
            if any(secrets[a.value] for a in CHANGES):
                # This process serves the imported signing key from now on (others: restart).
                signing.forget()

    async def _batch(
        self, ctx: StreamContext, session: AsyncSession, table: Table, batch: list[dict[str, Any]]
    ) -> None:
        keys = list(table.primary_key.columns)
        existing: dict[tuple[Any, ...], dict[str, Any]] = {}
        # Only the keys are read here: secret columns hold what the passphrase sealed.
        ids = [
            tuple(from_json(table, {k.name: d.get(k.name) for k in keys})[k.name] for k in keys)
            for d in batch
        ]
        statement = select(table).where(tuple_(*keys).in_(ids))
        for row in (await session.execute(statement)).mappings():
            existing[tuple(row[k.name] for k in keys)] = to_json(table, row)
        for data, key in zip(batch, ids, strict=True):
            stored = existing.get(key)
            if (
                stored is not None
                and _same(table, stored, data)
                and self._same_secret(table, stored, data)
            ):
                ctx.report.count(str(table.name), Action.SKIP)
                continue
            opened = self._secrets(table, dict(data))
            if opened is None:
                ctx.report.count(str(table.name), Action.REFUSE)
                continue
            if ctx.dry_run:
                ctx.report.count(
                    str(table.name), Action.CREATE if stored is None else Action.UPDATE
                )
                continue
            values = from_json(table, opened)
            try:
                async with session.begin_nested():
                    if stored is None:
                        if table.name == "system_api_keys" and values.get("is_current"):
                            await session.execute(
                                update(table)
                                .where(table.c.is_current.is_(True))
                                .values(is_current=None, revoked_at=dt.datetime.now(dt.UTC))
                            )
                        await session.execute(table.insert().values(**values))
                    else:
                        where = [k == values[k.name] for k in keys]
                        await session.execute(update(table).where(*where).values(**values))
            except IntegrityError as error:
                ctx.report.count(str(table.name), Action.REFUSE)
                ctx.progress(f"{table.name} {key}: refused ({error.orig})")
                continue
            ctx.report.count(str(table.name), Action.CREATE if stored is None else Action.UPDATE)

    def _same_secret(self, table: Table, stored: dict[str, Any], data: dict[str, Any]) -> bool:
        """An installation secret is the same only with the same value (each installation makes
        its own signing key, under the same name)."""
        if table.name != "installation_secrets" or self.opener is None:
            return True
        column = "encrypted_value"
        try:
            here = AtRest(self.settings).reveal(table.name, stored, column)
        except InstallationSecretUnreadable:
            return False
        return data.get(column) is not None and here == self.opener.open(data[column])

    async def _sequences(self, session: AsyncSession) -> None:
        """PostgreSQL hands out ids from sequences: move them past the imported ids."""
        if session.get_bind().dialect.name != "postgresql":
            return
        for table in tables():
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or not isinstance(_kind(keys[0].type), sqltypes.Integer):
                continue
            name = keys[0].name
            # Table and column names from Stellwerk's own metadata, never from the export.
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{name}'), "  # noqa: S608
                    f"(SELECT max({name}) FROM {table.name}))"
                    f" WHERE pg_get_serial_sequence('{table.name}', '{name}') IS NOT NULL"
                    f" AND EXISTS (SELECT 1 FROM {table.name})"
                )
            )


def _same(table: Table, stored: dict[str, Any], data: dict[str, Any]) -> bool:
    """Whether the stored row is the exported one. Secrets are not compared, nor the marks of
    use the receiving installation keeps on making (a token used since is the same token)."""
    for name, value in data.items():
        if (table.name, name) in SECRETS or name in USE_MARKS:
            continue
        if stored.get(name) != value and not _same_time(stored.get(name), value):
            return False
    return True


def _same_time(a: Any, b: Any) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        left, right = dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
    except ValueError:
        return False
    if left.tzinfo is None:
        left = left.replace(tzinfo=dt.UTC)
    if right.tzinfo is None:
        right = right.replace(tzinfo=dt.UTC)
    return left == right
