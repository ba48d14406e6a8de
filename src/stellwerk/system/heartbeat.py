"""Heartbeats: every Stellwerk process (API, worker, redirect data plane worker) says every
15 s that it is alive, in `process_heartbeats`, and removes its row when it stops gracefully."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass, field
from typing import Literal

from stellwerk import __version__
from stellwerk.database import Database
from stellwerk.kit.time import utc_now
from stellwerk.system.repository import HeartbeatRepository

# Every process writes its heartbeat this often; one silent for ALIVE_SECONDS counts as gone.
HEARTBEAT_SECONDS = 15.0
ALIVE_SECONDS = 3 * HEARTBEAT_SECONDS
# Rows of processes gone this long are deleted.
FORGET_AFTER = dt.timedelta(days=1)
Role = Literal["all", "api", "worker", "redirect"]


@dataclass
class ProcessIdentity:
    """Who this process is in `process_heartbeats`."""

    role: Role
    executor_id: str | None
    port: int | None = None
    metrics_address: str | None = None
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: dt.datetime = field(default_factory=utc_now)

    @property
    def process_id(self) -> str:
        if self.role == "api":
            return f"api:{self.hostname}:{self.port}"
        if self.role == "redirect":  # replaced workers get new pids; the old rows age out
            return f"redirect:{self.hostname}:{self.pid}"
        return f"{self.role}:{self.executor_id}"


async def heartbeat(
    database: Database, identity: ProcessIdentity, *, routing_version: int | None = None
) -> None:
    """Say this process is alive, and forget processes gone for a day."""
    now = utc_now()
    async with database.session() as session:
        repository = HeartbeatRepository(session)
        await repository.beat(
            {
                "process_id": identity.process_id,
                "role": identity.role,
                "hostname": identity.hostname[:255],
                "pid": identity.pid,
                "version": __version__,
                "executor_id": identity.executor_id,
                "metrics_address": identity.metrics_address,
                "routing_version": routing_version,
                "started_at": identity.started_at,
                "seen_at": now,
            }
        )
        await repository.delete_before(now - FORGET_AFTER)


async def leave(database: Database, identity: ProcessIdentity) -> None:
    """A graceful stop: this process no longer counts as alive."""
    async with database.session() as session:
        await HeartbeatRepository(session).stop(identity.process_id)
