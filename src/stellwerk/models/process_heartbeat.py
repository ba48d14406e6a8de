from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from stellwerk.kit.db import Base


class ProcessHeartbeat(Base):
    """A Stellwerk process (API, worker or redirect data plane worker) and when it last said it
    was alive; `/status` and the metrics count the installation's processes from these rows."""

    __tablename__ = "process_heartbeats"

    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    hostname: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(nullable=False)
    version: Mapped[str] = mapped_column(String(40), nullable=False)
    # The workflow executor id of a process that runs workflows.
    executor_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Where its `/metrics` answers (host:port), if anywhere.
    metrics_address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # A data plane worker: the routing version its table holds.
    routing_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    seen_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
