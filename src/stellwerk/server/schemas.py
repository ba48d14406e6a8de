"""Request and response bodies of the servers surface, named as multi-provider-vps-api.md
names them (camelCase where the document uses it)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stellwerk.kit.body import LenientBody, StrictBody


class ProviderCreate(LenientBody):
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=50)
    api_key: str | None = Field(default=None, max_length=500)
    configuration: dict[str, Any] = Field(default_factory=dict)
    active: bool = True


class ProviderUpdate(LenientBody):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    api_key: str | None = Field(default=None, min_length=1, max_length=500)
    active: bool | None = None
    configuration: dict[str, Any] | None = None


class ProviderRead(BaseModel):
    id: uuid.UUID
    name: str
    type: str
    active: bool
    configuration: dict[str, Any]
    created_at: str
    updated_at: str


class ProviderList(BaseModel):
    providers: list[ProviderRead]


class ProviderEnvelope(BaseModel):
    success: bool = True
    provider: ProviderRead


class FindingRead(BaseModel):
    level: str = Field(description="ok, warning or error")
    message: str
    fix: str | None = Field(default=None, description="What to do about it")


class CheckRead(BaseModel):
    provider: str = Field(description="The provider (inwx, coolify, hetzner, linode, ...)")
    title: str
    label: str = Field(description="`settings`, or the provider row's name")
    url: str | None = Field(description="The base URL that was asked")
    verdict: str = Field(description="ok, warning, failed or not_configured")
    findings: list[FindingRead]
    rate_limit: dict[str, str] | None = Field(
        description="The limit headers of the last answer (limit, remaining, reset)"
    )
    clock_skew_seconds: float | None = Field(
        description="How far this host's clock is ahead of the provider's"
    )
    duration_ms: float
    sandbox: bool = Field(description="Answered by Stellwerk's sandbox of the provider")


class CheckEnvelope(BaseModel):
    success: bool = True
    check: CheckRead


class IntegrationRead(BaseModel):
    name: str
    title: str
    kinds: list[str]
    configured: bool = Field(description="Real credentials are set")
    sandbox: bool = Field(description="Its sandbox answers (sandbox mode)")
    url: str | None
    settings: str = Field(description="The settings that configure it")


class IntegrationList(BaseModel):
    success: bool = True
    integrations: list[IntegrationRead]


class SecretsRotated(BaseModel):
    success: bool = True
    providers: int = Field(description="How many provider keys were re-encrypted")
    generation: int = Field(description="The key generation they are encrypted with now")


class Message(BaseModel):
    success: bool = True
    message: str


class PlanCreate(StrictBody):
    provider_id: uuid.UUID
    provider_plan_id: str = Field(min_length=1, max_length=255)
    base_price: Decimal = Field(default=Decimal("0.00"), ge=0, le=Decimal("99999999.99"))
    markup_price: Decimal = Field(default=Decimal("0.00"), ge=0, le=Decimal("99999999.99"))
    specifications: dict[str, Any] | None = None
    active: bool = True


class PlanUpdate(StrictBody):
    base_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))
    markup_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))
    specifications: dict[str, Any] | None = None
    active: bool | None = None


class PlanRead(BaseModel):
    id: uuid.UUID
    provider_id: uuid.UUID | None
    provider_type: str | None
    provider_plan_id: str
    # What the plan costs the company and its margin: null for customers.
    base_price: float | None
    markup_price: float | None
    # What a customer pays: base + markup per month, and its hourly share (672 h a month).
    price_monthly: float
    price_hourly: float
    specifications: dict[str, Any]
    active: bool
    created_at: str
    updated_at: str


class PlanList(BaseModel):
    plans: list[PlanRead]


class PlanEnvelope(BaseModel):
    success: bool = True
    plan: PlanRead


class InstanceCreate(LenientBody):
    """DigitalOcean's, Linode's and Hetzner's documented bodies in one (each ignores the
    others' options; Hetzner also takes `name`, `server_type` and `location`). A choice left
    out may fall back to a default (the provider's `default_region`); one sent empty is an
    error."""

    model_config = ConfigDict(populate_by_name=True)

    provider_id: uuid.UUID | None = None
    provider_type: str | None = Field(default=None, min_length=1, max_length=50)
    plan_id: uuid.UUID | None = Field(
        default=None,
        description="Order one of GET /api/vps/plans: its provider and size are taken from it",
    )
    label: str | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    type: str | None = Field(default=None, min_length=1, max_length=100)
    server_type: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, min_length=1, max_length=100)
    location: str | None = Field(default=None, min_length=1, max_length=100)
    image: str | None = Field(default=None, min_length=1, max_length=255)
    rootPassword: str | None = Field(default=None, max_length=128)
    sshKeys: list[str] = Field(default_factory=list, max_length=50)
    backups: bool = False
    monitoring: bool = False
    ipv6: bool = True
    privateIP: bool = False
    vpc_uuid: str | None = Field(default=None, max_length=64)
    appSlug: str | None = Field(default=None, min_length=1, max_length=100)
    stackscriptId: int | None = None
    stackscriptData: dict[str, str] | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    user_data: str | None = Field(default=None, max_length=65536)


class InstanceRead(BaseModel):
    id: uuid.UUID
    provider_id: uuid.UUID | None
    provider_type: str | None
    provider_instance_id: str | None
    label: str
    status: str
    ip_address: str | None
    ipv6_address: str | None
    region: str | None
    type: str | None
    image: str | None
    plan_specs: dict[str, Any]
    hourly_rate: float | None
    monthly_rate: float | None
    operation_id: uuid.UUID | None
    error: str | None
    created_at: str
    updated_at: str


class InstanceEnvelope(BaseModel):
    success: bool = True
    instance: InstanceRead


class InstanceDetail(BaseModel):
    instance: InstanceRead


class InstanceList(BaseModel):
    instances: list[InstanceRead]
    total: int
    page: int
    per_page: int
    pages: int


class ActionRequest(LenientBody):
    action: str = Field(min_length=1, max_length=40)


class CatalogRead(BaseModel):
    """A catalog listing: one key (`sizes`, `images`, `regions`, `apps`, ...) with a list."""

    model_config = ConfigDict(extra="allow")
