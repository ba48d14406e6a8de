from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stellwerk.kit.body import StrictBody
from stellwerk.kit.email import check_email


def _check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL")
    return value


class WebhookCreate(StrictBody):
    url: str = Field(max_length=2000, description="Where events are POSTed")
    events: list[str] = Field(min_length=1, max_length=50, description="Event names it receives")
    description: str = Field(default="", max_length=200)
    is_active: bool = True

    _url = field_validator("url")(_check_url)


class WebhookUpdate(StrictBody):
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    events: list[str]
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="The signing secret, shown this once; Stellwerk keeps it only encrypted"
    )


class WebhookSecret(BaseModel):
    id: int
    secret: str


class DeliveryAttempt(BaseModel):
    at: str
    response_code: int | None
    error: str | None
    ms: int | None = None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event: str
    channel: str
    endpoint_id: int | None
    recipients: list[str]
    status: str
    attempts: int
    response_code: int | None
    error: str | None
    attempts_log: list[DeliveryAttempt]
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    resent_from: uuid.UUID | None


class EventRecipients(BaseModel):
    event: str
    description: str
    recipients: list[str]


class NotificationSettings(BaseModel):
    smtp_configured: bool = Field(description="Whether SMTP_HOST and SMTP_FROM are set")
    events: list[EventRecipients]


class RecipientsUpdate(StrictBody):
    recipients: list[str] = Field(max_length=50, description="E-mail addresses; empty: none")

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        checked = [check_email(v) for v in value]
        return [v for v in checked if v]
