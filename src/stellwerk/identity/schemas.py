from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stellwerk.kit.body import StrictBody
from stellwerk.kit.email import check_email


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginRequest(StrictBody):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class LogoutResponse(BaseModel):
    ok: bool = True


class PasswordChange(StrictBody):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


RoleName = Literal["customer", "staff", "admin"]
# `user` is the earlier name of a customer; it is accepted and stored as `customer`.
RoleInput = Literal["customer", "staff", "admin", "user"]
_ROLE_HELP = (
    "customer (the default: their own servers, projects, redirects and DNS), staff (the "
    "company's employees) or admin (everything). `user` is taken as customer."
)
_QUOTA_HELP = (
    "How many servers a customer may have at once (deleted ones do not count); empty: the "
    "installation's default (`STELLWERK_CUSTOMER_SERVER_QUOTA`)."
)


class UserRead(Schema):
    id: int
    username: str
    email: str | None
    role: RoleName
    is_active: bool
    server_quota: int | None = Field(default=None, description=_QUOTA_HELP)
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class Me(UserRead):
    scopes: list[str]
    credential: str


class UserCreate(StrictBody):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    role: RoleInput = Field(default="customer", description=_ROLE_HELP)
    email: str | None = Field(default=None, max_length=320)
    server_quota: int | None = Field(default=None, ge=0, le=10_000, description=_QUOTA_HELP)

    _email = field_validator("email")(check_email)


class UserUpdate(StrictBody):
    username: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=320)
    role: RoleInput | None = Field(default=None, description=_ROLE_HELP)
    is_active: bool | None = None
    server_quota: int | None = Field(default=None, ge=0, le=10_000, description=_QUOTA_HELP)
    password: str | None = Field(default=None, min_length=1, max_length=1024)

    _email = field_validator("email")(check_email)


class TokenCreate(StrictBody):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=64)
    expires_at: dt.datetime | None = None


class TokenRead(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    user_id: int
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself. It is shown only this once.")


class ApiKeyRotated(BaseModel):
    api_key: str = Field(description="The new system API key. It is shown only this once.")


class ApiKeyInfo(Schema):
    prefix: str
    created_at: dt.datetime
