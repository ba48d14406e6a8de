"""Zones that follow registrations: a domain registered or transferred here is served by a DNS
zone from the start, so its records can be written right away.

The zone is created at the DNS provider before the registrar is asked (a provider that cannot
create it stops the purchase before anything is bought) and recorded as the company's zone once
the registrar accepted the domain. Both steps look before they create: running them again, after
a crash or for a domain whose zone exists, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.dns.repository import DnsZoneRepository
from stellwerk.exceptions import ValidationFailed
from stellwerk.models import DnsZone
from stellwerk.provider import connect
from stellwerk.provider.dns.base import DnsProvider
from stellwerk.provider.error import CONFLICT, NOT_FOUND, ProviderError


async def ensure_zone(dns: DnsProvider, zone: str, nameservers: Sequence[str] = ()) -> None:
    """The zone exists at `dns` afterwards; an existing one is left as it is."""
    try:
        await dns.get_zone(zone=zone)
    except ProviderError as error:
        if error.code != NOT_FOUND:
            raise
        try:
            await dns.create_zone(zone=zone, nameservers=nameservers)
        except ProviderError as created:
            if created.code != CONFLICT:  # created meanwhile by another caller
                raise


async def zone_provider(
    session: AsyncSession, settings: Settings, domain: str, *, provider: str | None = None
) -> str:
    """The DNS provider for `domain`'s zone: the one recorded for the zone, else `provider`, else
    `STELLWERK_DNS_DEFAULT_PROVIDER`. Reads only: the zone is created at the provider with
    `ensure_zone`, outside the transaction."""
    row = await DnsZoneRepository(session).get(domain)
    chosen = row.provider if row is not None else provider or settings.dns_default_provider
    if chosen not in connect.dns_providers():
        raise ValidationFailed(
            f"The DNS provider is one of {', '.join(connect.dns_providers())}",
            field="dns_provider",
        )
    return chosen


async def record_zone(
    session: AsyncSession, actor: Actor, domain: str, provider: str, *, reason: str
) -> DnsZone:
    """Remember that `provider` serves `domain` (as the company's zone) unless a zone of that
    name is recorded already. Called after the domain's own row was written, so no concurrent
    registration of the same domain gets here."""
    repository = DnsZoneRepository(session)
    row = await repository.get(domain)
    if row is not None:
        return row
    row = await repository.add(DnsZone(name=domain, provider=provider, owner_user_id=None))
    await audit.record(
        session,
        actor,
        "dns.zone.add",
        target_type="dns_zone",
        target_id=domain,
        detail={"provider": provider, "reason": reason},
    )
    return row
