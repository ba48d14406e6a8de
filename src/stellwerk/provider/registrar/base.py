"""The `Registrar` Protocol: availability, registration, transfer, contacts, domain info.

Prices are decimals in the registrar's currency. Long work (a transfer) is pending until the
registrar completes it: `transfer` returns the domain with status `pending`, `domain_info` shows
when it became `active`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

DomainStatus = Literal["active", "pending", "failed", "unknown"]


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    available: bool
    price: Decimal | None = None
    currency: str | None = None
    premium: bool = False
    # The registry's word: "free", "registered", "invalid", ...
    status: str | None = None


@dataclass(frozen=True)
class RegisteredDomain:
    domain: str
    id: str | None
    status: DomainStatus
    nameservers: tuple[str, ...] = ()
    registrant: str | None = None
    expires_at: str | None = None
    # What the registrar said, for logs and support (no secrets).
    raw_status: str | None = None


@dataclass(frozen=True)
class ContactInput:
    type: Literal["PERSON", "ORG", "ROLE"]
    name: str
    street: str
    city: str
    postal_code: str
    country_code: str
    phone: str
    email: str
    organization: str | None = None


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    email: str | None = None
    organization: str | None = None
    type: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Registrar(Protocol):
    name: str

    async def check(self, *, domains: Sequence[str]) -> list[DomainCheck]: ...

    async def register(
        self,
        *,
        domain: str,
        contact_id: str,
        nameservers: Sequence[str] = (),
        period_years: int = 1,
    ) -> RegisteredDomain:
        """Buy the domain with one contact in every role. `CONFLICT` when it is taken."""
        ...

    async def transfer(
        self, *, domain: str, auth_code: str, contact_id: str, nameservers: Sequence[str] = ()
    ) -> RegisteredDomain:
        """Start a transfer; usually `pending` until the losing registrar lets go."""
        ...

    async def domain_info(self, *, domain: str) -> RegisteredDomain:
        """The domain in this account; `NOT_FOUND` when it is not."""
        ...

    async def list_domains(self) -> list[RegisteredDomain]: ...

    async def create_contact(self, *, contact: ContactInput) -> Contact: ...

    async def get_contact(self, *, contact_id: str) -> Contact: ...

    async def list_contacts(self) -> list[Contact]: ...

    async def aclose(self) -> None: ...
