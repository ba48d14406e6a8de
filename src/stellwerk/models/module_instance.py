from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base, TimestampMixin


class ModuleInstance(TimestampMixin, Base):
    """An installed copy of a module, with its files in `{modules_root}/{module_name}_{id}`."""

    __tablename__ = "module_instances"
    __table_args__ = (
        # Exactly one primary instance per module.
        Index(
            "uq_module_instances_primary",
            "module_name",
            unique=True,
            sqlite_where=text("is_primary = 1"),
            postgresql_where=text("is_primary"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 32 lowercase hex
    module_name: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    repository_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="installed")
    is_primary: Mapped[bool] = mapped_column(nullable=False, default=False)
    multi_instance: Mapped[bool] = mapped_column(nullable=False, default=False)
    frontend_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    runtime: Mapped[str] = mapped_column(String(20), nullable=False)  # process|container|swarm
    unit_name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The host its process or container runs on (a process or local container runtime): work on
    # it runs there. None: any worker (swarm, or installed before hosts were recorded).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The module's manifest as installed (run section, health check) and runtime details.
    manifest: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    runtime_state: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
