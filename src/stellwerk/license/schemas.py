from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stellwerk.kit.body import LenientBody, StrictBody, also_named
from stellwerk.kit.semver import is_version

LICENSE_KEY_PATTERN = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$")
LicenseType = Literal["perpetual", "subscription", "trial"]

HardwareHash = Field(min_length=1, max_length=255)


def normalize_key(value: str) -> str:
    value = value.strip().upper()
    if not LICENSE_KEY_PATTERN.fullmatch(value):
        raise ValueError("a license key looks like XXXX-XXXX-XXXX-XXXX")
    return value


def check_version(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not is_version(value):
        raise ValueError("not a semantic version such as 1.2.3")
    return value.strip()


class KeyedRequest(LenientBody):
    license_key: str = Field(max_length=64)

    _key = field_validator("license_key")(normalize_key)


# License client API


class ActivateRequest(KeyedRequest):
    hardware_hash: str = HardwareHash
    machine_name: str | None = Field(default=None, max_length=255)
    app_version: str | None = Field(default=None, max_length=64)


class ActivationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    license_key: str
    hardware_hash: str
    machine_name: str | None
    activated_at: dt.datetime
    last_heartbeat: dt.datetime
    is_active: bool


class ActivateResponse(BaseModel):
    message: str
    activation: ActivationRead
    already_activated: bool = False


class DeactivateRequest(KeyedRequest):
    hardware_hash: str = HardwareHash


class VerifyRequest(KeyedRequest):
    hardware_hash: str = HardwareHash
    app_version: str | None = Field(default=None, max_length=64)


class VerifiedLicense(BaseModel):
    key: str
    type: str
    valid_until: dt.date | None
    max_users: int


class VerifyResponse(BaseModel):
    valid: bool
    message: str
    # Why the license is not valid: inactive, not_yet_valid, expired, not_activated,
    # version_unsupported. None when valid.
    reason: str | None = None
    license: VerifiedLicense
    update_available: bool
    latest_version: str | None
    min_supported_version: str | None = None


class InfoLicense(BaseModel):
    id: int
    key: str
    customer_name: str
    type: str
    valid_from: dt.date
    valid_until: dt.date | None
    max_activations: int
    max_users: int
    is_active: bool


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    hardware_hash: str
    machine_name: str | None
    activated_at: dt.datetime
    last_heartbeat: dt.datetime
    is_active: bool
    app_version: str | None = None


class InfoResponse(BaseModel):
    license: InfoLicense
    activations: list[DeviceRead]


class SessionStartRequest(KeyedRequest):
    machine_id: str | None = Field(default=None, max_length=255)
    hardware_hash: str = HardwareHash
    version: str | None = Field(default=None, max_length=64)
    client_name: str | None = Field(
        default=None,
        max_length=100,
        description="The client application; the default client when left out.",
    )

    _version = field_validator("version")(check_version)


class SessionStartResponse(BaseModel):
    success: bool = True
    message: str
    session_token: str
    client_name: str
    heartbeat_interval: int
    session_timeout: int
    started_at: dt.datetime
    update_available: bool
    latest_version: str
    download_url: str | None


class HeartbeatRequest(KeyedRequest):
    session_token: str = Field(min_length=1, max_length=64)


class HeartbeatResponse(BaseModel):
    success: bool = True
    last_heartbeat: dt.datetime
    next_heartbeat_in: int


class SessionEndRequest(LenientBody):
    session_token: str = Field(min_length=1, max_length=64)


class SessionEndResponse(BaseModel):
    success: bool = True
    message: str
    started_at: dt.datetime
    ended_at: dt.datetime
    duration_seconds: int
    end_reason: str


class VersionCheckRequest(LenientBody):
    current_version: str = Field(max_length=64)
    license_key: str | None = Field(default=None, max_length=64)
    channel: str = Field(default="stable", max_length=32)

    @field_validator("current_version")
    @classmethod
    def _current(cls, value: str) -> str:
        checked = check_version(value)
        if checked is None:
            raise ValueError("not a semantic version such as 1.2.3")
        return checked

    @field_validator("license_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return None if value is None else normalize_key(value)


class VersionCheckResponse(BaseModel):
    update_available: bool
    latest_version: str | None
    download_url: str | None
    release_notes: str | None
    current_version: str
    min_supported_version: str | None
    update_required: bool


class LatestVersionResponse(BaseModel):
    version: str
    release_date: dt.date
    download_url: str | None
    release_notes: str | None
    channel: str
    min_supported_version: str | None


class PublicKeyResponse(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key: str = Field(description="PEM (SubjectPublicKeyInfo)")
    public_key_raw: str = Field(description="The 32 raw key bytes, base64")


class LicenseFile(BaseModel):
    format: Literal["stellwerk-license-v1"] = "stellwerk-license-v1"
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    payload: str = Field(description="base64 of the signed JSON document")
    signature: str = Field(description="base64 Ed25519 signature over the payload bytes")


# Admin panel


_TYPE_ALIAS = "The same as `license_type`, under the name the license server's answers use"


class LicenseCreate(StrictBody):
    customer_id: int
    license_key: str | None = Field(default=None, max_length=64)
    license_type: LicenseType = "perpetual"
    type: LicenseType | None = Field(default=None, exclude=True, description=_TYPE_ALIAS)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    max_activations: int = Field(default=1, ge=1, le=100_000)
    max_users: int = Field(default=1, ge=1, le=100_000)
    is_active: bool = True
    notes: str | None = Field(default=None, max_length=10_000)

    _type = also_named("license_type", "type")

    @field_validator("license_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return None if value is None else normalize_key(value)


class LicenseUpdate(StrictBody):
    customer_id: int | None = None
    license_type: LicenseType | None = None
    type: LicenseType | None = Field(default=None, exclude=True, description=_TYPE_ALIAS)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    max_activations: int | None = Field(default=None, ge=1, le=100_000)
    max_users: int | None = Field(default=None, ge=1, le=100_000)
    is_active: bool | None = None
    notes: str | None = Field(default=None, max_length=10_000)

    _type = also_named("license_type", "type")


class QuickEdit(LenientBody):
    valid_until: dt.date | None = None
    max_activations: int | None = Field(default=None, ge=1, le=100_000)
    max_users: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _something(self) -> QuickEdit:
        if not self.model_fields_set:
            raise ValueError("send at least one of valid_until, max_activations, max_users")
        return self


class LicenseRead(BaseModel):
    id: int
    license_key: str
    customer_id: int
    customer_name: str
    license_type: str
    valid_from: dt.date
    valid_until: dt.date | None
    max_activations: int
    max_users: int
    is_active: bool
    active_devices: int
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class BulkRequest(LenientBody):
    license_ids: list[int] = Field(min_length=1, max_length=1000)


class BulkResponse(BaseModel):
    success: bool = True
    affected: int
    message: str


class ToggleResponse(BaseModel):
    success: bool = True
    is_active: bool
    message: str


class SuccessResponse(BaseModel):
    success: bool = True
    message: str


class DevicesResponse(BaseModel):
    devices: list[DeviceRead]


class RegisterDevice(LenientBody):
    hardware_hash: str = HardwareHash
    machine_name: str | None = Field(default=None, max_length=255)
    app_version: str | None = Field(default=None, max_length=64)


class RegisterDeviceResponse(BaseModel):
    success: bool = True
    device_id: int
    message: str


class GeneratedKey(BaseModel):
    license_key: str


# Releases and client configs


class ReleaseCreate(StrictBody):
    version: str = Field(max_length=64)
    channel: str = Field(default="stable", min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    release_date: dt.date | None = None
    download_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    release_notes: str | None = Field(default=None, max_length=100_000)
    min_supported_version: str | None = Field(default=None, max_length=64)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        checked = check_version(value)
        if checked is None:
            raise ValueError("not a semantic version such as 1.2.3")
        return checked

    _minimum = field_validator("min_supported_version")(check_version)


class ReleaseUpdate(StrictBody):
    release_date: dt.date | None = None
    download_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    release_notes: str | None = Field(default=None, max_length=100_000)
    min_supported_version: str | None = Field(default=None, max_length=64)

    _minimum = field_validator("min_supported_version")(check_version)


class ReleaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: str
    channel: str
    release_date: dt.date
    download_url: str | None
    release_notes: str | None
    min_supported_version: str | None
    created_at: dt.datetime


class ClientConfigCreate(StrictBody):
    name: str = Field(min_length=1, max_length=100)
    current_version: str = Field(default="1.0.0", max_length=64)
    heartbeat_interval: int = Field(default=30, ge=5, le=86_400)
    session_timeout: int = Field(default=90, ge=10, le=7 * 86_400)
    single_session: bool = True

    @field_validator("current_version")
    @classmethod
    def _version(cls, value: str) -> str:
        checked = check_version(value)
        if checked is None:
            raise ValueError("not a semantic version such as 1.2.3")
        return checked

    @model_validator(mode="after")
    def _timeout_covers_heartbeat(self) -> ClientConfigCreate:
        if self.session_timeout <= self.heartbeat_interval:
            raise ValueError("session_timeout must be longer than heartbeat_interval")
        return self


class ClientConfigUpdate(StrictBody):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    current_version: str | None = Field(default=None, max_length=64)
    heartbeat_interval: int | None = Field(default=None, ge=5, le=86_400)
    session_timeout: int | None = Field(default=None, ge=10, le=7 * 86_400)
    single_session: bool | None = None

    _version = field_validator("current_version")(check_version)


class ClientConfigRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    current_version: str
    heartbeat_interval: int
    session_timeout: int
    single_session: bool
    created_at: dt.datetime
    updated_at: dt.datetime
