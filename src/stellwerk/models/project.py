from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class Project(TimestampMixin, Base):
    """A provisioned satellite: domain, DNS, Coolify project and application."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    domain: Mapped[str] = mapped_column(String(253), nullable=False, unique=True)
    plugins: Mapped[list[str]] = mapped_column(nullable=False, default=list)
    # draft | provisioning | active | error | suspended | stopped | archived
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="draft", index=True)
    register_domain: Mapped[bool] = mapped_column(nullable=False, default=False)
    create_server: Mapped[bool] = mapped_column(nullable=False, default=False)
    server_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    server_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    dns_provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # [{"id", "name", "type", "content"}] created or adopted for this project
    dns_records: Mapped[list[Any]] = mapped_column(nullable=False, default=list)
    # Further names in the project's zone the application serves (`shop.example.com`), beside
    # the domain and its `www`.
    domains: Mapped[list[str]] = mapped_column(nullable=False, default=list)
    # The keys of environment variables its owner set (the values live only in Coolify).
    env_keys: Mapped[list[str]] = mapped_column(nullable=False, default=list)
    coolify_project_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    coolify_app_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deployment_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The last deployment's build and run log from Coolify (its tail, kept after the deploy).
    deploy_log: Mapped[str | None] = mapped_column(Text, nullable=True)
    live_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # SHA-256 of the project's marketplace key (the key itself lives only in Coolify's env).
    marketplace_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    activated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Adopted from what already ran at the provider (an import), not created here.
    adopted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
