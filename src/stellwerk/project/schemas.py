from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field

from stellwerk.kit.body import LenientBody, StrictBody


class ProjectCreate(LenientBody):
    name: str = Field(min_length=1, max_length=40, description="lower-case letters, digits, -")
    domain: str = Field(max_length=253)
    plugins: list[str] = Field(default_factory=list, max_length=50)
    server_uuid: str | None = Field(default=None, max_length=64, description="A Coolify server")
    register_domain: bool = Field(default=False, description="Buy the domain at the registrar")
    create_server: bool = Field(
        default=False, description="Create a Hetzner server through Coolify first"
    )
    dns_provider: str | None = Field(
        default=None, description="inwx, powerdns or hetzner (default: the zone's provider)"
    )


class ProjectRedeploy(StrictBody):
    branch: str | None = Field(
        default=None, max_length=200, description="Deploy this branch's head from now on"
    )
    commit: str | None = Field(
        default=None, max_length=40, description="Deploy this commit (7-40 hex digits)"
    )


class ProjectEdit(StrictBody):
    plugins: list[str] | None = Field(
        default=None, max_length=50, description="The project's plugins (replaces the list)"
    )
    env: dict[str, str | None] | None = Field(
        default=None,
        description="Environment variables to set; `null` removes one. Values are written to "
        "Coolify only and never shown again",
    )
    domains: list[str] | None = Field(
        default=None,
        max_length=20,
        description="Further names inside the project's domain the application serves "
        "(replaces the list; the domain and its www are always served)",
    )


class ProjectOperation(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    progress: int
    message: str


class ProjectError(BaseModel):
    step: str | None
    message: str | None


class DeployLog(BaseModel):
    project_id: int
    deployment_uuid: str | None
    state: str
    log: str | None = Field(
        description="The last deployment's build and run log from Coolify (its tail); "
        "None until a deployment was followed"
    )


class ProjectRead(BaseModel):
    id: int
    name: str
    domain: str
    plugins: list[str]
    domains: list[str] = Field(description="Further names the application serves")
    env_keys: list[str] = Field(description="The variables the owner set (keys only)")
    state: str
    register_domain: bool
    create_server: bool
    server_uuid: str | None
    server_ip: str | None
    dns_provider: str | None
    dns_records: list[dict[str, Any]]
    coolify_project_uuid: str | None
    coolify_app_uuid: str | None
    deployment_uuid: str | None
    live_url: str | None
    error: ProjectError | None
    operation: ProjectOperation | None
    created_at: dt.datetime
    updated_at: dt.datetime
    activated_at: dt.datetime | None
    # Set when the project was adopted from a Coolify application that already ran.
    adopted_at: dt.datetime | None = None
