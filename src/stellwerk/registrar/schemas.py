from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from stellwerk.kit.body import LenientBody

# Exact inside; a JSON number in answers (`"price": 12.5`), with `currency` beside it.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class DomainCheckRequest(LenientBody):
    domains: list[str] = Field(min_length=1, max_length=50)


class DomainCheckRead(BaseModel):
    domain: str
    available: bool
    price: Money | None
    currency: str | None
    premium: bool
    status: str | None


class DomainCheckResult(BaseModel):
    domains: list[DomainCheckRead]


class DomainRegisterRequest(LenientBody):
    domain: str = Field(max_length=253)
    contact_id: int | None = Field(
        default=None,
        description="A contact of ours (`/api/registrar/contacts`); default: the default one",
    )
    nameservers: list[str] = Field(default_factory=list, max_length=13)
    period_years: int = Field(default=1, ge=1, le=10)
    dns_provider: str | None = Field(
        default=None,
        max_length=40,
        description="Where its DNS zone is created: inwx, powerdns or hetzner "
        "(default: STELLWERK_DNS_DEFAULT_PROVIDER)",
    )


class DomainTransferRequest(LenientBody):
    domain: str = Field(max_length=253)
    auth_code: str = Field(min_length=4, max_length=200, repr=False)
    contact_id: int | None = None
    nameservers: list[str] = Field(default_factory=list, max_length=13)
    dns_provider: str | None = Field(
        default=None,
        max_length=40,
        description="Where its DNS zone is created: inwx, powerdns or hetzner "
        "(default: STELLWERK_DNS_DEFAULT_PROVIDER)",
    )


class DomainRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    provider: str
    provider_domain_id: str | None
    status: str
    origin: str
    contact_id: int | None
    price: Money | None
    currency: str | None
    expires_at: str | None
    created_at: dt.datetime
    completed_at: dt.datetime | None
    # Set when the domain was adopted from the registrar account, not bought here.
    adopted_at: dt.datetime | None = None


class ContactCreate(LenientBody):
    """Create a contact at the registrar, or adopt an existing handle (`provider_contact_id`)."""

    provider_contact_id: str | None = Field(default=None, max_length=64)
    type: Literal["PERSON", "ORG", "ROLE"] = "PERSON"
    name: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    street: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    phone: str | None = Field(default=None, max_length=40, description="+49.123456789")
    email: str | None = Field(default=None, max_length=320)
    default: bool = True


class ContactUpdate(LenientBody):
    default: bool | None = None
    name: str | None = Field(default=None, max_length=200)


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    provider_contact_id: str
    type: str
    name: str
    organization: str | None
    email: str | None
    is_default: bool
    created_at: dt.datetime
