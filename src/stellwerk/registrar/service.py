"""Registrar domains and contacts.

Provider calls happen before anything is written, so a refused purchase leaves no row; a domain is
remembered once the registrar has accepted it and is never deleted by Stellwerk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.zones import open_zone, record_zone
from stellwerk.exceptions import Conflict, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit import idn
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.query import insert_first
from stellwerk.kit.time import utc_now
from stellwerk.models import RegistrarContact, RegistrarDomain
from stellwerk.provider import connect
from stellwerk.provider.error import NOT_FOUND, ProviderError
from stellwerk.provider.registrar.base import ContactInput, DomainCheck, Registrar
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
        row = RegistrarContact(
            provider=PROVIDER,
            provider_contact_id=remote.id,
            type=kind,
            name=name or remote.id,
            organization=organization,
            email=email,
            is_default=False,
        )
        if not await insert_first(session, row):
            raise ContactExists(remote.id)
        if default:
            await repository.clear_default(PROVIDER)
            row.is_default = True
            await session.flush()
        await audit.record(
            session,
            actor,
            "registrar.contact.create",
            target_type="registrar_contact",
            target_id=row.id,
            detail={"provider_contact_id": remote.id, "default": default},
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

    async def default_contact(
        self, session: AsyncSession, settings: Settings, actor: Actor
    ) -> RegistrarContact:
        """The remembered default contact; in sandbox mode the sandbox's seeded one is adopted."""
        repository = RegistrarRepository(session)
        contact = await repository.default_contact(PROVIDER)
        if contact is not None:
            return contact
        seeded = connect.sandbox_seed(settings, PROVIDER, "contact_id")
        if seeded is not None:
            existing = await repository.contact_by_handle(PROVIDER, seeded)
            if existing is None:
                try:
                    return await self.create_contact(
                        session, settings, actor, provider_contact_id=seeded
                    )
                except ContactExists:  # adopted by a concurrent request just now
                    existing = await repository.contact_by_handle(PROVIDER, seeded)
                    if existing is None:
                        raise
            existing.is_default = True
            await session.flush()
            return existing
        raise Conflict(
            "No default registrant contact: create one with POST /api/registrar/contacts",
            code="no_default_contact",
        )

    async def _contact(
        self, session: AsyncSession, settings: Settings, actor: Actor, contact_id: int | None
    ) -> RegistrarContact:
        if contact_id is None:
            return await self.default_contact(session, settings, actor)
        return await self.get_contact(session, contact_id)

    # --- domains ----------------------------------------------------------------------------
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
        name = normalize_domain(domain)
        servers = _nameservers(nameservers)
        repository = RegistrarRepository(session)
        existing = await repository.domain(name)
        if existing is not None:
            raise DomainTaken(f"{name} is already in this account ({existing.status})")
        contact = await self._contact(session, settings, actor, contact_id)
        async with connect.registrar(settings) as registrar:
            row = await self._adopt_if_ours(registrar, name, contact)
            if row is None:
                (check,) = await registrar.check(domains=[name])
                if not check.available:
                    raise DomainTaken(f"{name} is not available")
            # Its zone first: a DNS provider that cannot serve it stops before the purchase.
            zone_provider = await open_zone(session, settings, name, provider=dns_provider)
            if row is None:
                registered = await registrar.register(
                    domain=name,
                    contact_id=contact.provider_contact_id,
                    nameservers=servers,
                    period_years=period_years,
                )
                row = RegistrarDomain(
                    name=name,
                    provider=PROVIDER,
                    provider_domain_id=registered.id,
                    status=registered.status,
                    origin="register",
                    contact_id=contact.id,
                    price=_price(check.price),
                    currency=check.currency,
                    completed_at=utc_now() if registered.status == "active" else None,
                )
        row.contact_id = contact.id
        row.owner_user_id = actor.user_id
        if not await insert_first(session, row):
            raise DomainTaken(f"{name} is already in this account")
        await record_zone(session, actor, name, zone_provider, reason="registration")
        await audit.record(
            session,
            actor,
            "registrar.domain.register",
            target_type="registrar_domain",
            target_id=name,
            detail={"price": str(row.price), "currency": row.currency, "status": row.status},
        )
        return row

    @staticmethod
    async def _adopt_if_ours(
        registrar: Registrar, name: str, contact: RegistrarContact
    ) -> RegistrarDomain | None:
        """Look before buying: a domain already in the registrar account is recorded, not bought
        again (a crash after the purchase, or a domain bought elsewhere)."""
        try:
            info = await registrar.domain_info(domain=name)
        except ProviderError as error:
            if error.code == NOT_FOUND:
                return None
            raise
        return RegistrarDomain(
            name=name,
            provider=PROVIDER,
            provider_domain_id=info.id,
            status=info.status if info.status != "unknown" else "active",
            origin="register",
            expires_at=info.expires_at,
            completed_at=utc_now() if info.status == "active" else None,
        )

    async def ensure_registered(
        self,
        session: AsyncSession,
        settings: Settings,
        actor: Actor,
        *,
        domain: str,
        dns_provider: str | None = None,
    ) -> RegistrarDomain:
        """The project flow's domain step: the domain is ours afterwards, bought at most once."""
        existing = await RegistrarRepository(session).domain(normalize_domain(domain))
        if existing is not None:
            return existing
        return await self.register(
            session, settings, actor, domain=domain, dns_provider=dns_provider
        )

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
        name = normalize_domain(domain)
        servers = _nameservers(nameservers)
        if not auth_code.strip():
            raise ValidationFailed("The auth code is required", field="auth_code")
        repository = RegistrarRepository(session)
        existing = await repository.domain(name)
        if existing is not None:
            raise DomainTaken(f"{name} is already in this account ({existing.status})")
        contact = await self._contact(session, settings, actor, contact_id)
        # Its zone first, as for a registration: served from the moment the transfer completes.
        zone_provider = await open_zone(session, settings, name, provider=dns_provider)
        async with connect.registrar(settings) as registrar:
            started = await registrar.transfer(
                domain=name,
                auth_code=auth_code.strip(),
                contact_id=contact.provider_contact_id,
                nameservers=servers,
            )
        row = RegistrarDomain(
            name=name,
            provider=PROVIDER,
            provider_domain_id=started.id,
            status=started.status,
            origin="transfer",
            contact_id=contact.id,
            owner_user_id=actor.user_id,
            completed_at=utc_now() if started.status == "active" else None,
        )
        if not await insert_first(session, row):
            raise DomainTaken(f"{name} is already in this account")
        await record_zone(session, actor, name, zone_provider, reason="transfer")
        await audit.record(
            session,
            actor,
            "registrar.domain.transfer",
            target_type="registrar_domain",
            target_id=name,
            detail={"status": row.status},
        )
        return row

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
