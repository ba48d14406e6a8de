from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stellwerk.kit.body import LenientBody

RecordTypeName = Literal["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"]


class ZoneCreate(LenientBody):
    name: str = Field(max_length=253)
    provider: str | None = Field(
        default=None,
        description="inwx, powerdns or hetzner; default: STELLWERK_DNS_DEFAULT_PROVIDER",
    )
    nameservers: list[str] = Field(default_factory=list, max_length=13)


class ZoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    provider: str
    created_at: dt.datetime
    # Set when the zone was adopted from what already ran at the provider.
    adopted_at: dt.datetime | None = None


class RecordCreate(LenientBody):
    name: str = Field(
        default="@", max_length=253, description="Relative to the zone; `@` is the apex"
    )
    type: RecordTypeName
    content: str = Field(min_length=1, max_length=4000)
    ttl: int = Field(default=3600, ge=60, le=86400)
    priority: int | None = Field(default=None, ge=0, le=65535, description="MX and SRV")


class RecordUpdate(LenientBody):
    content: str | None = Field(default=None, min_length=1, max_length=4000)
    ttl: int | None = Field(default=None, ge=60, le=86400)
    priority: int | None = Field(default=None, ge=0, le=65535)


class RecordRead(BaseModel):
    id: str
    zone: str
    name: str
    fqdn: str
    type: str
    content: str
    ttl: int
    priority: int | None
    provider: str
