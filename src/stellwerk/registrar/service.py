"""Registrar domains and contacts.

Provider calls happen before anything is written, so a refused purchase leaves no row; a domain is
remembered once the registrar has accepted it and is never deleted by Stellwerk. Registering and
transferring are planned, done at the providers and recorded in three parts, so a workflow step
holds no transaction while the registrar or the DNS provider is asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.zones import ensure_zone, record_zone, zone_provider
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit import idn
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.query import insert_first
from stellwerk.kit.time import utc_now
from stellwerk.models import RegistrarContact, RegistrarDomain
from stellwerk.provider import connect
from stellwerk.provider.error import NOT_FOUND, ProviderError
from stellwerk.provider.registrar.base import (
    Contact,
    ContactInput,
    DomainCheck,
    DomainStatus,
    RegisteredDomain,
    Registrar,
)
from stellwerk.registrar.repository import RegistrarRepository

PROVIDER = "inwx"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAMESERVER = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}\.?$")


def normalize_domain(raw: str, *, field: str = "domain") -> str:
    """A registrable domain name, lower case, IDN as punycode; raises `ValidationFailed`."""
    try:
        name = idn.to_ascii(raw.lower())
    except idn.InvalidDomain as error:
        raise ValidationFailed(
            f"{raw!r} is not a valid domain name: {error}", field=field
        ) from error
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdecimal()
    ):
        raise ValidationFailed(f"{raw!r} is not a valid domain name", field=field)
    return name


def _nameservers(values: Sequence[str]) -> list[str]:
    cleaned = []
    for value in values:
        name = value.strip().lower().rstrip(".")
        if not _NAMESERVER.match(name):
            raise ValidationFailed(f"{value!r} is not a nameserver host name", field="nameservers")
        cleaned.append(name)
    return cleaned


class DomainTaken(Conflict):
    default_code = "domain_taken"


class ContactExists(Conflict):
    default_code = "contact_exists"

    def __init__(self, handle: str) -> None:
        super().__init__(f"Contact {handle} is already known")


@dataclass(frozen=True)
class ContactRef:
    """The registrant contact of a registration or transfer: a recorded one (`id`), or the
    sandbox's seeded handle, adopted as the default contact (`adopt`)."""

    id: int | None
    handle: str
    adopt: bool = False


@dataclass(frozen=True)
class Acquisition:
    """What registering or transferring a domain needs, read before any provider is asked."""

    name: str
    origin: str  # "register" or "transfer"
    contact: ContactRef
    nameservers: tuple[str, ...]
    zone_provider: str
    period_years: int = 1


@dataclass(frozen=True)
class Acquired:
    """What the registrar answered: the domain bought, found in the account or being
    transferred (and the seeded contact's details when it is adopted)."""

    provider_domain_id: str | None
    status: DomainStatus
    price: Decimal | None = None
    currency: str | None = None
    expires_at: str | None = None
    contact: Contact | None = None


async def _open_zone(settings: Settings, plan: Acquisition) -> None:
    async with connect.dns(settings, plan.zone_provider) as dns:
        await ensure_zone(dns, plan.name)


class RegistrarService:
    async def check(self, settings: Settings, *, domains: Sequence[str]) -> list[DomainCheck]:
        names = [normalize_domain(d, field="domains") for d in domains]
        if not names or len(names) > 50:
            raise ValidationFailed("Check 1-50 domains at once", field="domains")
        async with connect.registrar(settings) as registrar:
            return await registrar.check(domains=names)

    # --- contacts -------------------------------------------------------------------------
    async def contacts(self, session: AsyncSession) -> Sequence[RegistrarContact]:
        return await RegistrarRepository(session).contacts()

    async def get_contact(self, session: AsyncSession, contact_id: int) -> RegistrarContact:
        contact = await RegistrarRepository(session).contact(contact_id)
        if contact is None:
            raise NotFound(f"No contact with id {contact_id}")
        return contact

    async def create_contact(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        provider_contact_id: str | None = None,
        contact: ContactInput | None = None,
        default: bool = True,
    ) -> RegistrarContact:
        """Create a contact at the registrar (`contact.create`) or adopt an existing handle."""
        repository = RegistrarRepository(session)
        async with connect.registrar(settings) as registrar:
            if provider_contact_id is not None:
                if await repository.contact_by_handle(PROVIDER, provider_contact_id):
                    raise ContactExists(provider_contact_id)
                remote = await registrar.get_contact(contact_id=provider_contact_id)
                kind, name, organization, email = (
                    remote.type or "PERSON",
                    remote.name,
                    remote.organization,
                    remote.email,
                )
            elif contact is not None:
                remote = await registrar.create_contact(contact=contact)
                kind, name, organization, email = (
                    contact.type,
                    contact.name,
                    contact.organization,
                    contact.email,
                )
            else:
                raise ValidationFailed("Give a provider_contact_id or the contact's details")
        return await self._store_contact(
            session,
            actor,
            handle=remote.id,
            kind=kind,
            name=name,
            organization=organization,
            email=email,
            default=default,
        )

    @staticmethod
    async def _store_contact(
        session: AsyncSession,
        actor: Actor,
        *,
        handle: str,
        kind: str,
        name: str | None,
        organization: str | None,
        email: str | None,
        default: bool,
    ) -> RegistrarContact:
        row = RegistrarContact(
            provider=PROVIDER,
            provider_contact_id=handle,
            type=kind,
            name=name or handle,
            organization=organization,
            email=email,
            is_default=False,
        )
        if not await insert_first(session, row):
            raise ContactExists(handle)
        if default:
            await RegistrarRepository(session).clear_default(PROVIDER)
            row.is_default = True
            await session.flush()
        await audit.record(
            session,
            actor,
            "registrar.contact.create",
            target_type="registrar_contact",
            target_id=row.id,
            detail={"provider_contact_id": handle, "default": default},
        )
        return row

    async def update_contact(
        self,
        session: AsyncSession,
        actor: Actor,
        contact: RegistrarContact,
        *,
        default: bool | None = None,
        name: str | None = None,
    ) -> RegistrarContact:
        repository = RegistrarRepository(session)
        if default:
            await repository.clear_default(contact.provider)
            contact.is_default = True
        elif default is False:
            contact.is_default = False
        if name:
            contact.name = name
        await session.flush()
        await audit.record(
            session,
            actor,
            "registrar.contact.update",
            target_type="registrar_contact",
            target_id=contact.id,
            detail={"default": default, "name": name},
        )
        return contact

    async def _contact_ref(
        self, session: AsyncSession, settings: Settings, contact_id: int | None
    ) -> ContactRef:
        """The registrant contact: `contact_id`, else the remembered default; in sandbox mode
        the sandbox's seeded handle, adopted as the default when the domain is recorded."""
        if contact_id is not None:
            chosen = await self.get_contact(session, contact_id)
            return ContactRef(id=chosen.id, handle=chosen.provider_contact_id)
        repository = RegistrarRepository(session)
        contact = await repository.default_contact(PROVIDER)
        if contact is not None:
            return ContactRef(id=contact.id, handle=contact.provider_contact_id)
        seeded = connect.sandbox_seed(settings, PROVIDER, "contact_id")
        if seeded is not None:
            existing = await repository.contact_by_handle(PROVIDER, seeded)
            return ContactRef(
                id=None if existing is None else existing.id, handle=seeded, adopt=True
            )
        raise Conflict(
            "No default registrant contact: create one with POST /api/registrar/contacts",
            code="no_default_contact",
        )

    async def _recorded_contact(
        self, session: AsyncSession, actor: Actor, ref: ContactRef, remote: Contact | None
    ) -> RegistrarContact:
        """The contact row for `ref`; an adopted handle is recorded (once) as the default."""
        repository = RegistrarRepository(session)
        contact = await repository.contact(ref.id) if ref.id is not None else None
        if contact is None and ref.adopt:
            contact = await repository.contact_by_handle(PROVIDER, ref.handle)
            if contact is None and remote is not None:
                try:
                    return await self._store_contact(
                        session,
                        actor,
                        handle=remote.id,
                        kind=remote.type or "PERSON",
                        name=remote.name,
                        organization=remote.organization,
                        email=remote.email,
                        default=True,
                    )
                except ContactExists:  # adopted by a concurrent registration just now
                    contact = await repository.contact_by_handle(PROVIDER, ref.handle)
        if contact is None:
            raise Conflict(
                f"The registrant contact {ref.handle} is gone", code="no_default_contact"
            )
        if ref.adopt and not contact.is_default:
            await repository.clear_default(PROVIDER)
            contact.is_default = True
            await session.flush()
        return contact

    # --- domains ----------------------------------------------------------------------------
    # Registering and transferring happen in three parts, so that no database transaction has
    # to stay open while the registrar and the DNS provider are asked (a workflow step runs
    # them in transactions of their own): `plan_*` reads and checks what is known here,
    # `acquire` asks the providers, `record` writes what they did. A request runs all three in
    # its one transaction.
    async def plan_registration(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        domain: str,
        contact_id: int | None = None,
        nameservers: Sequence[str] = (),
        period_years: int = 1,
        dns_provider: str | None = None,
    ) -> Acquisition:
        return await self._plan(
            session,
            settings,
            domain,
            "register",
            contact_id=contact_id,
            nameservers=nameservers,
            dns_provider=dns_provider,
            period_years=period_years,
        )

    async def plan_transfer(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        domain: str,
        auth_code: str,
        contact_id: int | None = None,
        nameservers: Sequence[str] = (),
        dns_provider: str | None = None,
    ) -> Acquisition:
        return await self._plan(
            session,
            settings,
            domain,
            "transfer",
            auth_code=auth_code,
            contact_id=contact_id,
            nameservers=nameservers,
            dns_provider=dns_provider,
        )

    async def _plan(
        self,
        session: AsyncSession,
        settings: Settings,
        domain: str,
        origin: str,
        *,
        contact_id: int | None,
        nameservers: Sequence[str],
        dns_provider: str | None,
        period_years: int = 1,
        auth_code: str | None = None,
    ) -> Acquisition:
        name = normalize_domain(domain)
        servers = _nameservers(nameservers)
        if auth_code is not None and not auth_code.strip():
            raise ValidationFailed("The auth code is required", field="auth_code")
        existing = await RegistrarRepository(session).domain(name)
        if existing is not None:
            raise DomainTaken(f"{name} is already in this account ({existing.status})")
        return Acquisition(
            name=name,
            origin=origin,
            contact=await self._contact_ref(session, settings, contact_id),
            nameservers=tuple(servers),
            zone_provider=await zone_provider(session, settings, name, provider=dns_provider),
            period_years=period_years,
        )

    async def acquire(
        self, settings: Settings, plan: Acquisition, *, auth_code: str | None = None
    ) -> Acquired:
        """Ask the registrar (and the DNS provider for the zone); touches no database.

        Looks before it buys: a domain already in the registrar account (bought before a crash,
        or elsewhere) is taken as it is, never bought again. The zone is created first, so a DNS
        provider that cannot serve the domain stops before the purchase or transfer."""
        name = plan.name
        async with connect.registrar(settings) as registrar:
            remote = None
            if plan.contact.adopt and plan.contact.id is None:
                remote = await registrar.get_contact(contact_id=plan.contact.handle)
            if plan.origin == "transfer":
                await _open_zone(settings, plan)
                started = await registrar.transfer(
                    domain=name,
                    auth_code=(auth_code or "").strip(),
                    contact_id=plan.contact.handle,
                    nameservers=plan.nameservers,
                )
                return Acquired(
                    provider_domain_id=started.id, status=started.status, contact=remote
                )
            found = await self._in_account(registrar, name)
            if found is not None:
                await _open_zone(settings, plan)
                return Acquired(
                    provider_domain_id=found.id,
                    status=found.status if found.status != "unknown" else "active",
                    expires_at=found.expires_at,
                    contact=remote,
                )
            (check,) = await registrar.check(domains=[name])
            if not check.available:
                raise DomainTaken(f"{name} is not available")
            await _open_zone(settings, plan)
            registered = await registrar.register(
                domain=name,
                contact_id=plan.contact.handle,
                nameservers=plan.nameservers,
                period_years=plan.period_years,
            )
            return Acquired(
                provider_domain_id=registered.id,
                status=registered.status,
                price=_price(check.price),
                currency=check.currency,
                contact=remote,
            )

    @staticmethod
    async def _in_account(registrar: Registrar, name: str) -> RegisteredDomain | None:
        try:
            return await registrar.domain_info(domain=name)
        except ProviderError as error:
            if error.code == NOT_FOUND:
                return None
            raise

    async def record(
        self,
        session: AsyncSession,
        actor: Actor,
        plan: Acquisition,
        acquired: Acquired,
        *,
        existing_ok: bool = False,
    ) -> RegistrarDomain:
        """Remember the domain `acquire` bought or started to transfer, and its zone. With
        `existing_ok`, a row written meanwhile (by a concurrent caller) is the answer instead of
        `DomainTaken`."""
        contact = await self._recorded_contact(session, actor, plan.contact, acquired.contact)
        row = RegistrarDomain(
            name=plan.name,
            provider=PROVIDER,
            provider_domain_id=acquired.provider_domain_id,
            status=acquired.status,
            origin=plan.origin,
            contact_id=contact.id,
            owner_user_id=actor.user_id,
            price=acquired.price,
            currency=acquired.currency,
            expires_at=acquired.expires_at,
            completed_at=utc_now() if acquired.status == "active" else None,
        )
        if not await insert_first(session, row):
            existing = await RegistrarRepository(session).domain(plan.name)
            if existing_ok and existing is not None:
                return existing
            raise DomainTaken(f"{plan.name} is already in this account")
        reason = "registration" if plan.origin == "register" else "transfer"
        await record_zone(session, actor, plan.name, plan.zone_provider, reason=reason)
        detail: dict[str, str | None] = {"status": row.status}
        if plan.origin == "register":
            detail = {"price": str(row.price), "currency": row.currency, **detail}
        await audit.record(
            session,
            actor,
            f"registrar.domain.{plan.origin}",
            target_type="registrar_domain",
            target_id=plan.name,
            detail=detail,
        )
        return row

    async def register(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        domain: str,
        contact_id: int | None = None,
        nameservers: Sequence[str] = (),
        period_years: int = 1,
        dns_provider: str | None = None,
    ) -> RegistrarDomain:
        """Buy `domain`; its DNS zone is created at `dns_provider` (default: the configured one)
        and recorded, so records can be written right after."""
        plan = await self.plan_registration(
            session,
            settings,
            domain=domain,
            contact_id=contact_id,
            nameservers=nameservers,
            period_years=period_years,
            dns_provider=dns_provider,
        )
        return await self.record(session, actor, plan, await self.acquire(settings, plan))

    async def transfer(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        domain: str,
        auth_code: str,
        contact_id: int | None = None,
        nameservers: Sequence[str] = (),
        dns_provider: str | None = None,
    ) -> RegistrarDomain:
        """Start a transfer with `auth_code` (never stored); the domain is `pending` until the
        registrar completes it. Its zone is served from the moment it does."""
        plan = await self.plan_transfer(
            session,
            settings,
            domain=domain,
            auth_code=auth_code,
            contact_id=contact_id,
            nameservers=nameservers,
            dns_provider=dns_provider,
        )
        acquired = await self.acquire(settings, plan, auth_code=auth_code)
        return await self.record(session, actor, plan, acquired)

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        params: PageParams,
        status: str | None = None,
    ) -> tuple[Sequence[RegistrarDomain], int]:
        return await RegistrarRepository(session).domains(
            principal, offset=params.offset, limit=params.per_page, status=status
        )

    async def get(
        self, session: AsyncSession, settings: Settings, principal: Principal, name: str
    ) -> RegistrarDomain:
        domain = await RegistrarRepository(session).readable_domain(
            principal, normalize_domain(name)
        )
        if domain is None:
            raise NotFound(f"No domain {name} in this account")
        if domain.status == "pending":
            await self._refresh(settings, domain)
            await session.flush()
        return domain

    async def refresh_pending(self, session: AsyncSession, settings: Settings) -> int:
        """Ask the registrar about pending transfers (a periodic job)."""
        changed = 0
        for domain in await RegistrarRepository(session).pending_domains():
            before = domain.status
            await self._refresh(settings, domain)
            changed += domain.status != before
        await session.flush()
        return changed

    @staticmethod
    async def _refresh(settings: Settings, domain: RegistrarDomain) -> None:
        async with connect.registrar(settings) as registrar:
            try:
                info = await registrar.domain_info(domain=domain.name)
            except ProviderError as error:
                if error.code == NOT_FOUND:
                    return
                raise
        if info.status in ("active", "failed") and info.status != domain.status:
            domain.status = info.status
            domain.completed_at = utc_now()
        domain.expires_at = info.expires_at or domain.expires_at


def _price(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


registrar = RegistrarService()
