"""SkyPanel: its providers (API keys decrypted with the panel's `SSH_CRED_SECRET` and encrypted
again under Stellwerk's key), plans, and servers with their owners, matched against the servers
that are live at each provider. The panel's database is opened read-only.

The panel's tables and their encryption follow its public source (skyvps360/skypanelv2:
`migrations/001_initial_schema.sql`, `api/lib/crypto.ts`, `api/routes/vps.ts`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from stellwerk.config import Settings, to_async_url
from stellwerk.exceptions import BadRequest, StellwerkError, ValidationFailed
from stellwerk.importer.plan import ImportPlan
from stellwerk.kit.secret import hash_password, random_string
from stellwerk.models import ServiceProvider, User, VpsInstance, VpsPlan
from stellwerk.provider import connect, registry
from stellwerk.provider.compute.base import Server
from stellwerk.provider.error import ProviderError
from stellwerk.server.compute import endpoint_for, secret_box
from stellwerk.server.repository import (
    InstanceRepository,
    OwnerRepository,
    PlanRepository,
    ProviderRepository,
)
from stellwerk.server.secrets import SecretUnreadable
from stellwerk.server.service import apply_server, hourly, money, provider_service

SOURCE = "skypanel"
# crypto.ts getKey(): the development fallback when SSH_CRED_SECRET is unset or too short.
DEV_SEED = "skypanelv2-dev-secret"
MIN_SECRET = 16


class PanelUnreadable(BadRequest):
    """The panel's database cannot be read (wrong URL, not a SkyPanel database)."""


def panel_key(secret: str | None, jwt_secret: str | None = None) -> bytes:
    """The panel's AES key (crypto.ts getKey): SHA-256 of an SSH_CRED_SECRET of 16 or more
    characters; without one, SHA-256 of JWT_SECRET (or the development seed) padded with "0"
    to 32 characters."""
    if secret and len(secret) >= MIN_SECRET:
        return hashlib.sha256(secret.encode()).digest()
    seed = (jwt_secret or DEV_SEED).ljust(32, "0")
    return hashlib.sha256(seed.encode()).digest()


def decrypt_panel_secret(encoded: str, key: bytes) -> str:
    """crypto.ts decryptSecret: base64 of the JSON `{iv, tag, ciphertext}` (each base64),
    AES-256-GCM with a 12-byte IV. A value that is no such payload is a legacy plain-text
    secret and comes back unchanged. Raises `InvalidTag` when the key is not the panel's."""
    try:
        payload = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        return encoded
    if not isinstance(payload, dict) or not all(
        payload.get(k) for k in ("iv", "tag", "ciphertext")
    ):
        return encoded
    iv, tag, ciphertext = (base64.b64decode(payload[k]) for k in ("iv", "tag", "ciphertext"))
    return AESGCM(key).decrypt(iv, ciphertext + tag, None).decode()


@dataclass
class PanelData:
    providers: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)


PROVIDERS_SQL = """
SELECT id, name, type, api_key_encrypted, configuration, active
FROM service_providers ORDER BY created_at, id
"""
PLANS_SQL = """
SELECT id, name, provider_id, provider_plan_id, base_price, markup_price, specifications, active
FROM vps_plans ORDER BY created_at, id
"""
# Servers belong to an organization; its owner is the person they belong to.
INSTANCES_SQL = """
SELECT i.id, i.plan_id, i.provider_id, i.provider_type, i.provider_instance_id, i.label,
       i.status, i.configuration, u.email AS owner_email, u.name AS owner_name
FROM vps_instances i
JOIN organizations o ON o.id = i.organization_id
JOIN users u ON u.id = o.owner_id
ORDER BY i.created_at, i.id
"""


async def read_panel(database_url: str) -> PanelData:
    """The panel's providers, plans and servers, through a read-only connection."""
    engine = create_async_engine(
        to_async_url(database_url),
        poolclass=NullPool,
        connect_args={"server_settings": {"default_transaction_read_only": "on"}},
    )
    try:
        async with engine.connect() as connection:
            data = PanelData()
            for sql, rows in (
                (PROVIDERS_SQL, data.providers),
                (PLANS_SQL, data.plans),
                (INSTANCES_SQL, data.instances),
            ):
                result = await connection.execute(text(sql))
                rows.extend(dict(r) for r in result.mappings())
            return data
    except StellwerkError:
        raise
    except Exception as error:  # a driver's or the server's word, whatever it is
        raise PanelUnreadable(f"Cannot read the SkyPanel database: {error}") from error
    finally:
        await engine.dispose()


@dataclass
class _Provider:
    """A panel provider as it will be here: its id, type and the servers live there."""

    id: uuid.UUID
    type: str
    servers: dict[str, Server]


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value) if isinstance(value, dict) else {}


async def _live_servers(
    provider_type: str, api_key: str, endpoint: str | None, settings: Settings
) -> dict[str, Server]:
    compute = connect.open_compute(
        provider_type,
        token=api_key,
        limiter=connect.limiter(settings.redis_url),
        base_url=endpoint,
        max_attempts=2,
    )
    try:
        return {s.id: s for s in await compute.list_servers()}
    finally:
        await compute.aclose()


async def _same_account(
    session: AsyncSession, settings: Settings, provider_type: str, api_key: str
) -> ServiceProvider | None:
    """A provider here with the same type and key: the panel's account is already here."""
    box = secret_box(settings)
    for provider in await ProviderRepository(session).list():
        if provider.type != provider_type:
            continue
        try:
            if box.decrypt(provider.api_key_encrypted) == api_key:
                return provider
        except SecretUnreadable:
            continue
    return None


@dataclass
class _Account:
    """A panel provider whose account answered: what the plan records for it."""

    row: dict[str, Any]
    api_key: str
    configuration: dict[str, Any]
    endpoint: str | None
    servers: dict[str, Server]


async def _ask_providers(
    settings: Settings, plan: ImportPlan, panel: PanelData, key: bytes, sandboxes: dict[str, str]
) -> list[_Account]:
    """The panel's provider accounts and their live servers, asked before the plan touches the
    database (no transaction waits on a provider); those that cannot be used are refused."""
    accounts: list[_Account] = []
    for row in panel.providers:
        ident, ptype, name = str(row["id"]), str(row["type"]), str(row["name"])
        if ptype not in registry.compute_types():
            plan.add("provider", ident, "refuse", f"Stellwerk has no {ptype} servers", name=name)
            continue
        if not row["api_key_encrypted"]:
            plan.add("provider", ident, "refuse", "has no API key in the panel", name=name)
            continue
        try:
            api_key = decrypt_panel_secret(str(row["api_key_encrypted"]), key)
        except (InvalidTag, ValueError):
            plan.add("provider", ident, "refuse", "its API key does not decrypt with this secret")
            continue
        try:
            configuration = provider_service.checked_configuration(_object(row["configuration"]))
        except (ValidationFailed, ProviderError) as error:
            plan.add("provider", ident, "refuse", error.message, name=name)
            continue
        endpoint = endpoint_for(ptype, configuration, settings, sandboxes)
        try:
            servers = await _live_servers(ptype, api_key, endpoint, settings)
        except ProviderError as error:
            plan.add("provider", ident, "refuse", f"{ptype} answered {error.code}: {error.message}")
            continue
        accounts.append(_Account(dict(row), api_key, configuration, endpoint, servers))
    return accounts


async def _plan_providers(
    session: AsyncSession, settings: Settings, plan: ImportPlan, accounts: list[_Account]
) -> dict[str, _Provider]:
    found: dict[str, _Provider] = {}
    providers = ProviderRepository(session)
    for account in accounts:
        row, api_key, servers = account.row, account.api_key, account.servers
        ident, ptype, name = str(row["id"]), str(row["type"]), str(row["name"])
        existing = await providers.get(uuid.UUID(ident))
        if existing is None:
            existing = await _same_account(session, settings, ptype, api_key)
        if existing is not None:
            found[ident] = _Provider(existing.id, ptype, servers)
            plan.add(
                "provider",
                ident,
                "skip",
                f"already here as {existing.name}",
                name=name,
                servers=len(servers),
            )
            continue

        async def add_provider(
            ident: str = ident,
            name: str = name,
            ptype: str = ptype,
            api_key: str = api_key,
            configuration: dict[str, Any] = account.configuration,
            active: bool = bool(row["active"]),
            endpoint: str | None = account.endpoint,
        ) -> None:
            generation = await provider_service.key_generation(session)
            await providers.add(
                ServiceProvider(
                    id=uuid.UUID(ident),
                    name=name,
                    type=ptype,
                    api_key_encrypted=secret_box(settings).encrypt(api_key, generation=generation),
                    configuration=configuration,
                    active=active,
                    endpoint=endpoint,
                )
            )

        found[ident] = _Provider(uuid.UUID(ident), ptype, servers)
        plan.add(
            "provider",
            ident,
            "create",
            f"{ptype} account with {len(servers)} live server(s)",
            step=add_provider,
            name=name,
            type=ptype,
        )
    return found


@dataclass
class _Plan:
    id: uuid.UUID
    provider_plan_id: str
    specifications: dict[str, Any]
    monthly: Decimal


async def _plan_plans(
    session: AsyncSession, plan: ImportPlan, panel: PanelData, providers: dict[str, _Provider]
) -> dict[str, _Plan]:
    found: dict[str, _Plan] = {}
    plans = PlanRepository(session)
    for row in panel.plans:
        ident = str(row["id"])
        provider = providers.get(str(row["provider_id"]))
        if provider is None:
            plan.add("plan", ident, "refuse", "its provider is not imported", name=row["name"])
            continue
        specifications = {"name": row["name"], **_object(row["specifications"])}
        monthly = money(Decimal(row["base_price"] or 0) + Decimal(row["markup_price"] or 0))
        existing = await plans.get(uuid.UUID(ident)) or await plans.find(
            provider.id, str(row["provider_plan_id"])
        )
        if existing is not None:
            found[ident] = _Plan(
                existing.id,
                existing.provider_plan_id,
                existing.specifications,
                existing.base_price + existing.markup_price,
            )
            plan.add("plan", ident, "skip", f"already offered as {existing.provider_plan_id}")
            continue

        async def add_plan(
            ident: str = ident,
            row: dict[str, Any] = row,
            provider_id: uuid.UUID = provider.id,
            specifications: dict[str, Any] = specifications,
        ) -> None:
            await plans.add(
                VpsPlan(
                    id=uuid.UUID(ident),
                    provider_id=provider_id,
                    provider_plan_id=str(row["provider_plan_id"]),
                    base_price=money(Decimal(row["base_price"] or 0)),
                    markup_price=money(Decimal(row["markup_price"] or 0)),
                    specifications=specifications,
                    active=bool(row["active"]),
                )
            )

        found[ident] = _Plan(
            uuid.UUID(ident), str(row["provider_plan_id"]), specifications, monthly
        )
        plan.add(
            "plan",
            ident,
            "create",
            f"{row['provider_plan_id']} at {monthly} a month",
            step=add_plan,
            name=row["name"],
        )
    return found


class _Owners:
    """The panel's server owners as users here, matched by e-mail; new ones are created as
    customers without a usable password (they set one through the admin)."""

    def __init__(self, session: AsyncSession, plan: ImportPlan) -> None:
        self.repository = OwnerRepository(session)
        self.plan = plan
        self.known: dict[str, User] = {}

    async def of(self, email: str) -> User:
        email = email.strip().lower()
        user = self.known.get(email) or await self.repository.by_email(email)
        if user is None:
            user = await self.repository.by_username(email)
        if user is None:
            user = User(
                username=email,
                email=email,
                password_hash=hash_password(random_string(40)),
                role="customer",
            )

            async def add_user(user: User = user) -> None:
                await self.repository.add(user)

            self.plan.add(
                "user", email, "create", "owns servers in the panel, no user here", step=add_user
            )
        self.known[email] = user
        return user


async def _plan_instances(
    session: AsyncSession,
    plan: ImportPlan,
    panel: PanelData,
    providers: dict[str, _Provider],
    plans: dict[str, _Plan],
) -> None:
    instances = InstanceRepository(session)
    owners = _Owners(session, plan)
    known: dict[uuid.UUID, set[str]] = {}
    for row in panel.instances:
        ident, label = str(row["id"]), str(row["label"])
        provider = providers.get(str(row["provider_id"]))
        if provider is None and row["provider_id"] is None:
            # Rows older than the panel's provider_id column name only the provider's type.
            of_type = {p.id: p for p in providers.values() if p.type == row["provider_type"]}
            provider = next(iter(of_type.values())) if len(of_type) == 1 else None
        if provider is None:
            plan.add("server", ident, "refuse", "its provider is not imported", label=label)
            continue
        server_id = str(row["provider_instance_id"])
        if provider.id not in known:
            known[provider.id] = await instances.known_server_ids(provider.id)
        if await instances.get(uuid.UUID(ident)) is not None or server_id in known[provider.id]:
            plan.add("server", ident, "skip", "already here", label=label)
            continue
        live = provider.servers.get(server_id)
        if live is None:
            plan.add(
                "server",
                ident,
                "refuse",
                f"{provider.type} has no server {server_id} any more",
                label=label,
            )
            continue
        owner = await owners.of(str(row["owner_email"]))
        configuration = _object(row["configuration"])
        offered = plans.get(str(row["plan_id"]))

        async def add_server(
            ident: str = ident,
            row: dict[str, Any] = row,
            provider: _Provider = provider,
            live: Server = live,
            owner: User = owner,
            configuration: dict[str, Any] = configuration,
            offered: _Plan | None = offered,
        ) -> None:
            instance = VpsInstance(
                id=uuid.UUID(ident),
                user_id=owner.id,
                provider_type=provider.type,
                provider_id=provider.id,
                provider_instance_id=live.id,
                label=str(row["label"]),
                region=configuration.get("region") or live.region,
                plan_type=offered.provider_plan_id if offered else live.plan,
                image=configuration.get("image") or live.image,
                plan_id=offered.id if offered else None,
                plan_specs=offered.specifications
                if offered
                else {k: v for k, v in live.specs.items() if v is not None},
                monthly_rate=offered.monthly if offered else None,
                hourly_rate=hourly(offered.monthly) if offered else None,
                # The creation request as the panel kept it, without the root password.
                options={
                    **{k: v for k, v in configuration.items() if k != "auth" and v is not None},
                    "imported": SOURCE,
                },
            )
            apply_server(instance, live)
            await instances.add(instance)

        plan.add(
            "server",
            ident,
            "create",
            f"live at {provider.type} as {server_id} ({live.status})",
            step=add_server,
            label=label,
            owner=owner.username,
        )


async def plan_skypanel(
    session: AsyncSession,
    settings: Settings,
    *,
    database_url: str,
    secret: str | None,
    jwt_secret: str | None = None,
    sandboxes: dict[str, str] | None = None,
) -> ImportPlan:
    """What importing the panel would do: providers, then plans, then servers."""
    panel = await read_panel(database_url)
    plan = ImportPlan(SOURCE)
    key = panel_key(secret, jwt_secret)
    accounts = await _ask_providers(settings, plan, panel, key, sandboxes or {})
    providers = await _plan_providers(session, settings, plan, accounts)
    plans = await _plan_plans(session, plan, panel, providers)
    await _plan_instances(session, plan, panel, providers, plans)
    return plan
