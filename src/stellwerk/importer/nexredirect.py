"""NexRedirect: its SQLite file, read-only.

Users keep their bcrypt password hashes (Stellwerk checks them and stores argon2id at the next
login), API tokens keep their SHA-256 hashes (NexRedirect hashed the whole `nrx_…` token as
Stellwerk does, so every token keeps working unchanged), groups and domains keep their settings
(sunset pages included), and hits are streamed in batches through the same writer the data plane
uses, which builds the daily rollups and the domains' counters as it goes.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.repository import TokenRepository
from stellwerk.identity.role import scopes_for_role
from stellwerk.identity.scope import ALL_SCOPES
from stellwerk.identity.service import USERNAME_PATTERN
from stellwerk.importer.frame import (
    Action,
    ImportContext,
    Importer,
    ImportFailed,
    StreamContext,
    digest,
)
from stellwerk.importer.repository import ImportRecordRepository, UserLookupRepository
from stellwerk.kit.secret import is_bcrypt_hash
from stellwerk.kit.time import from_epoch_ms
from stellwerk.models import ApiToken, RedirectDomain, RedirectGroup, User
from stellwerk.notify.repository import NotifyRepository
from stellwerk.notify.service import webhooks
from stellwerk.redirect import service as redirect_service
from stellwerk.redirect.names import normalize_domain
from stellwerk.redirect.repository import (
    DomainRepository,
    GroupRepository,
    HitRepository,
    HitRow,
    RoutingStateRepository,
)

SOURCE = "nexredirect"
HIT_BATCH = 5000
TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
# NexRedirect's own bookkeeping in its settings table: nothing to carry over.
NO_EQUIVALENT = "no equivalent in Stellwerk"
# What NexRedirect's webhook told about, as Stellwerk's events.
WEBHOOK_EVENTS = ("redirect_domain.verified", "redirect_domain.verification_failed")
INTERNAL_SETTINGS = {"m_301_to_302", "m_sunset_column", "daily_ip_salt", "setup_complete"}
STATUSES = {"pending": "pending", "active": "active", "error": "dns_error"}
REQUIRED_TABLES = ("users", "domains", "domain_groups", "hits", "api_tokens", "settings")


def _ms(value: Any) -> Any:
    return from_epoch_ms(int(value)) if value is not None else None


class NexRedirectImporter(Importer):
    source = SOURCE

    def __init__(
        self,
        path: Path,
        *,
        owner: str | None = None,
        batch: int = HIT_BATCH,
        settings: Settings | None = None,
    ) -> None:
        self.path = path
        # The installation's settings: its key seals the secret of an imported webhook.
        self.settings = settings
        self.owner_name = owner
        self.batch = batch
        # Source domain ids the plan refused; their hits are skipped.
        self.refused_domains: set[int] = set()

    def describe(self) -> dict[str, Any]:
        return {"file": str(self.path)}

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise ImportFailed(f"{self.path} is not a file")
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as error:
            raise ImportFailed(f"{self.path} cannot be opened: {error}") from error
        connection.row_factory = sqlite3.Row
        with closing(connection):
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            missing = [t for t in REQUIRED_TABLES if t not in tables]
            if missing:
                raise ImportFailed(
                    f"{self.path} is not a NexRedirect database (no table {missing[0]})"
                )
            yield connection

    async def plan(self, ctx: ImportContext) -> None:
        with self._open() as source:
            users = await self._users(ctx, source)
            owner = await self._default_owner(ctx, users)
            groups = await self._groups(ctx, source, users, owner)
            changed = await self._domains(ctx, source, users, groups, owner)
            if changed and not ctx.dry_run:
                await RoutingStateRepository(ctx.session).bump()
            await self._tokens(ctx, source, users, owner)
            await self._settings(ctx, source)

    # Users -------------------------------------------------------------------------------

    async def _users(self, ctx: ImportContext, source: sqlite3.Connection) -> dict[int, User]:
        lookup = UserLookupRepository(ctx.session)
        users: dict[int, User] = {}
        for row in source.execute("SELECT * FROM users ORDER BY id"):
            email = str(row["email"]).strip().lower()
            # Later NexRedirect versions let users sign in with a username as well.
            given = dict(row).get("username")
            name = str(given).strip() if given else email
            key = row["id"]
            role = "admin" if row["role"] == "admin" else "customer"
            fingerprint = digest([name, email, row["password_hash"], role])
            target = await ctx.target("user", key)
            if target is not None:
                user = await lookup.get(int(target))
                if user is not None:
                    users[key] = user
                    if await ctx.unchanged("user", key, fingerprint):
                        ctx.skipped("user", name, "unchanged", user.id)
                        continue
                    if not is_bcrypt_hash(row["password_hash"]):
                        ctx.refused("user", name, "the password hash is not bcrypt")
                        continue
                    user.email, user.role = email, role
                    user.password_hash = row["password_hash"]
                    await ctx.session.flush()
                    await ctx.remember("user", key, user.id, fingerprint)
                    ctx.updated("user", name, user.id)
                    continue
            if not USERNAME_PATTERN.fullmatch(name):
                ctx.refused("user", name, "not usable as a Stellwerk username")
                continue
            if not is_bcrypt_hash(row["password_hash"]):
                ctx.refused("user", name, "the password hash is not bcrypt")
                continue
            if await lookup.by_username(name) is not None:
                ctx.refused("user", name, "a Stellwerk user with this name exists already")
                continue
            user = User(
                username=name,
                email=email,
                password_hash=row["password_hash"],
                role=role,
                created_at=_ms(row["created_at"]),
            )
            ctx.session.add(user)
            await ctx.session.flush()
            await ctx.remember("user", key, user.id, fingerprint)
            ctx.created("user", name, user.id)
            users[key] = user
        return users

    async def _default_owner(self, ctx: ImportContext, users: dict[int, User]) -> User | None:
        """Who owns what nobody in particular created: `--owner`, else the first admin."""
        lookup = UserLookupRepository(ctx.session)
        if self.owner_name:
            owner = await lookup.by_username(self.owner_name)
            if owner is None:
                raise ImportFailed(f"No Stellwerk user {self.owner_name}")
            return owner
        admins = sorted((u for u in users.values() if u.is_admin), key=lambda u: u.id)
        return await lookup.first_admin() or (admins[0] if admins else None)

    # Groups and domains ------------------------------------------------------------------

    async def _groups(
        self,
        ctx: ImportContext,
        source: sqlite3.Connection,
        users: dict[int, User],
        fallback: User | None,
    ) -> dict[int, RedirectGroup]:
        repository = GroupRepository(ctx.session)
        groups: dict[int, RedirectGroup] = {}
        for row in source.execute("SELECT * FROM domain_groups ORDER BY id"):
            key, name = row["id"], str(row["name"]).strip()[:100]
            owner = users.get(row["created_by"]) or fallback
            if owner is None:
                ctx.refused("group", name, "no owner: import or create an admin first")
                continue
            code = (
                row["redirect_code"]
                if row["redirect_code"] in redirect_service.REDIRECT_CODES
                else 302
            )
            fingerprint = digest([name, row["target_url"], code, owner.id])
            target = await ctx.target("group", key)
            group = await repository.get(int(target)) if target else None
            if group is not None:
                groups[key] = group
                if await ctx.unchanged("group", key, fingerprint):
                    ctx.skipped("group", name, "unchanged", group.id)
                    continue
                group.name, group.target_url, group.redirect_code = name, row["target_url"], code
                await ctx.session.flush()
                await ctx.remember("group", key, group.id, fingerprint)
                ctx.updated("group", name, group.id)
                continue
            if not name or await repository.by_name(owner.id, name) is not None:
                ctx.refused("group", name, "a group with this name exists already")
                continue
            group = RedirectGroup(
                owner_id=owner.id, name=name, target_url=row["target_url"], redirect_code=code
            )
            await repository.add(group)
            await ctx.remember("group", key, group.id, fingerprint)
            ctx.created("group", name, group.id)
            groups[key] = group
        return groups

    async def _domains(
        self,
        ctx: ImportContext,
        source: sqlite3.Connection,
        users: dict[int, User],
        groups: dict[int, RedirectGroup],
        fallback: User | None,
    ) -> bool:
        columns = {row[1] for row in source.execute("PRAGMA table_info(domains)")}
        repository = DomainRepository(ctx.session)
        changed = False
        for row in source.execute("SELECT * FROM domains ORDER BY id"):
            key, name = row["id"], str(row["domain"])
            owner = users.get(row["created_by"]) or fallback
            group = groups.get(row["group_id"]) if row["group_id"] is not None else None
            sunset_raw = row["sunset_config"] if "sunset_config" in columns else None
            settings = {
                "target_url": row["target_url"] or (group.target_url if group else None),
                "redirect_code": row["redirect_code"],
                "preserve_path": bool(row["preserve_path"]),
                "include_www": bool(row["include_www"]),
                "group_id": group.id if group else None,
                "sunset_config": self._sunset(sunset_raw),
            }
            state = STATUSES.get(row["status"], "pending")
            fingerprint = digest([settings, state, owner.id if owner else None])
            target = await ctx.target("domain", key)
            record = await repository.get(int(target)) if target else None
            try:
                if record is not None:
                    if await ctx.unchanged("domain", key, fingerprint):
                        ctx.skipped("domain", name, "unchanged", record.id)
                        continue
                    await redirect_service.domain.update(
                        ctx.session, ctx.actor, record, settings, announce=False
                    )
                    self._status(record, state, row)
                    await ctx.remember("domain", key, record.id, fingerprint)
                    ctx.updated("domain", name, record.id)
                    changed = True
                    continue
                if owner is None:
                    self.refused_domains.add(key)
                    ctx.refused("domain", name, "no owner: import or create an admin first")
                    continue
                try:
                    taken = await repository.get_by_names([normalize_domain(name)])
                except StellwerkError:
                    taken = []
                if taken:
                    self.refused_domains.add(key)
                    ctx.refused("domain", name, "a Stellwerk redirect domain exists already")
                    continue
                async with ctx.session.begin_nested():
                    record = await redirect_service.domain.create(
                        ctx.session, ctx.actor, owner, domain=name, announce=False, **settings
                    )
                    record.created_at = _ms(row["created_at"])
                    self._status(record, state, row)
                    await ctx.session.flush()
            except StellwerkError as error:
                self.refused_domains.add(key)
                ctx.refused("domain", name, error.message)
                continue
            await ctx.remember("domain", key, record.id, fingerprint)
            ctx.created("domain", name, record.id)
            changed = True
        return changed

    @staticmethod
    def _sunset(raw: str | None) -> dict[str, Any] | None:
        """NexRedirect's sunset page (shown only when enabled) as Stellwerk's, `410 Gone`."""
        if not raw:
            return None
        try:
            config = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(config, dict) or not config.get("enabled"):
            return None
        fields = ("title", "message", "button_label", "sunset_date")
        return {"enabled": True, **{f: config[f] for f in fields if config.get(f)}}

    @staticmethod
    def _status(record: RedirectDomain, state: str, row: sqlite3.Row) -> None:
        record.status = state
        record.verified_at = _ms(row["verified_at"])

    # Tokens and settings -----------------------------------------------------------------

    async def _tokens(
        self,
        ctx: ImportContext,
        source: sqlite3.Connection,
        users: dict[int, User],
        fallback: User | None,
    ) -> None:
        repository = TokenRepository(ctx.session)
        for row in source.execute("SELECT * FROM api_tokens ORDER BY id"):
            key, name = row["id"], (str(row["name"]).strip() or "imported")[:100]
            label = f"{name} (#{key})"
            if row["revoked_at"] is not None:
                ctx.skipped("api_token", label, "revoked in NexRedirect")
                continue
            token_hash = str(row["token_hash"]).lower()
            if not TOKEN_HASH.fullmatch(token_hash):
                ctx.refused("api_token", label, "the stored hash is not a SHA-256 hex digest")
                continue
            owner = users.get(row["created_by"]) or fallback
            if owner is None:
                ctx.refused("api_token", label, "no owner: import or create an admin first")
                continue
            try:
                wanted = orjson.loads(row["scopes"])
            except orjson.JSONDecodeError:
                wanted = []
            scopes = sorted(s for s in wanted if isinstance(s, str) and s in ALL_SCOPES)
            scopes = sorted(set(scopes) & scopes_for_role(owner.role))
            if not scopes:
                ctx.refused("api_token", label, "none of its scopes exists in Stellwerk")
                continue
            existing = await repository.get_by_hash(token_hash)
            target = await ctx.target("api_token", key)
            if existing is not None:
                if target == str(existing.id):
                    ctx.skipped("api_token", label, "unchanged", existing.id)
                else:
                    ctx.refused("api_token", label, "a Stellwerk token with this hash exists")
                continue
            token = ApiToken(
                user_id=owner.id,
                name=name,
                token_hash=token_hash,
                # Only the hash came along, so the list shows no digits of the token.
                prefix="nrx_",
                scopes=scopes,
                created_at=_ms(row["created_at"]),
                last_used_at=_ms(row["last_used_at"]),
            )
            ctx.session.add(token)
            await ctx.session.flush()
            await ctx.remember("api_token", key, token.id)
            ctx.created("api_token", label, token.id)

    async def _settings(self, ctx: ImportContext, source: sqlite3.Connection) -> None:
        """Settings Stellwerk keeps in its database too are imported (`webhook_url` becomes a
        webhook endpoint); the others have no equivalent here."""
        for row in source.execute("SELECT key, value FROM settings ORDER BY key"):
            key, value = row["key"], row["value"]
            if key in INTERNAL_SETTINGS:
                ctx.skipped("setting", key, "NexRedirect's own bookkeeping")
            elif key == "webhook_url":
                await self._webhook(ctx, str(value or "").strip())
            else:
                ctx.skipped("setting", key, NO_EQUIVALENT)

    async def _webhook(self, ctx: ImportContext, url: str) -> None:
        """NexRedirect POSTs its events to one URL: here an endpoint of the redirect domains'
        events, signed with a secret of its own (shown after `rotate secret`)."""
        key = "webhook_url"
        if not url:
            ctx.skipped("setting", key, "not set in NexRedirect")
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
            ctx.refused("setting", key, "not an http:// or https:// URL")
            return
        fingerprint = digest({"url": url})
        repository = NotifyRepository(ctx.session)
        target = await ctx.target("setting", key)
        existing = await repository.endpoint(int(target)) if target else None
        if target and existing is None:
            ctx.skipped("setting", key, "its webhook endpoint was deleted in Stellwerk")
            return
        if existing is not None:
            if await ctx.unchanged("setting", key, fingerprint) or existing.url == url:
                ctx.skipped("setting", key, "unchanged", existing.id)
                return
            await webhooks.update(ctx.session, ctx.actor, existing, {"url": url})
            await ctx.remember("setting", key, existing.id, fingerprint)
            ctx.updated("setting", key, existing.id, "the webhook endpoint's URL")
            return
        same = next((e for e in await repository.endpoints() if e.url == url), None)
        if same is not None:
            await ctx.remember("setting", key, same.id, fingerprint)
            ctx.skipped("setting", key, "a webhook endpoint with this URL exists", same.id)
            return
        if self.settings is None:
            ctx.skipped("setting", key, "no installation key given to seal a webhook secret")
            return
        endpoint, _ = await webhooks.create(
            ctx.session,
            ctx.actor,
            self.settings,
            url=url,
            events=list(WEBHOOK_EVENTS),
            description="NexRedirect's webhook",
        )
        await ctx.remember("setting", key, endpoint.id, fingerprint)
        ctx.created(
            "setting",
            key,
            endpoint.id,
            "as a webhook endpoint of the redirect domain events (signed; rotate its secret "
            "to learn it)",
        )

    # Hits ---------------------------------------------------------------------------------

    async def stream(self, ctx: StreamContext) -> None:
        with self._open() as source:
            if ctx.dry_run:
                await self._count_hits(ctx, source)
                return
            async with ctx.batch() as session:
                domains = await self._domain_map(session)
            total = 0
            while True:
                async with ctx.batch() as session:
                    written = await self._hit_batch(ctx, session, source, domains)
                if written is None:
                    break
                total += written
                ctx.progress(f"hits: {total} imported")

    async def _domain_map(self, session: AsyncSession) -> dict[int, tuple[int, str]]:
        ids = await ImportRecordRepository(session).targets(SOURCE, "domain")
        names = await UserLookupRepository(session).domain_names([int(v) for v in ids.values()])
        return {
            int(key): (int(value), names[int(value)])
            for key, value in ids.items()
            if int(value) in names
        }

    async def _hit_batch(
        self,
        ctx: StreamContext,
        session: AsyncSession,
        source: sqlite3.Connection,
        domains: dict[int, tuple[int, str]],
    ) -> int | None:
        """One batch after the cursor, written with the cursor in one transaction."""
        cursor = await ctx.cursor(session, "hits")
        rows = source.execute(
            "SELECT id, domain_id, ts, ip_hash, country, user_agent, referer, path FROM hits "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, self.batch),
        ).fetchall()
        if not rows:
            return None
        hits: list[HitRow] = []
        skipped = 0
        for row in rows:
            domain = domains.get(row["domain_id"])
            if domain is None:
                skipped += 1
                continue
            country = (row["country"] or "").strip().upper()
            hits.append(
                HitRow(
                    domain_id=domain[0],
                    host=domain[1],
                    ts=int(row["ts"]),
                    ip_hash=str(row["ip_hash"])[:64],
                    country=country if len(country) == 2 else None,
                    user_agent=(row["user_agent"] or None) and str(row["user_agent"])[:512],
                    referer=(row["referer"] or None) and str(row["referer"])[:1024],
                    path=str(row["path"] or "/")[:2048],
                    is_bot=False,
                )
            )
        await HitRepository(session).write_batch(hits)
        await ctx.advance(session, "hits", int(rows[-1]["id"]))
        ctx.report.count("hit", Action.CREATE, len(hits))
        if skipped:
            ctx.report.count("hit", Action.SKIP, skipped)
        return len(hits)

    async def _count_hits(self, ctx: StreamContext, source: sqlite3.Connection) -> None:
        async with ctx.batch() as session:
            cursor = await ctx.cursor(session, "hits")
        for domain_id, count in source.execute(
            "SELECT domain_id, count(*) FROM hits WHERE id > ? GROUP BY domain_id", (cursor,)
        ):
            action = Action.SKIP if domain_id in self.refused_domains else Action.CREATE
            ctx.report.count("hit", action, int(count))
