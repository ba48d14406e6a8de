"""Gauges that describe the whole installation, computed from the database when `/metrics` is
scraped: every process (API or worker) answers the same numbers, so scrape any or all of them
and aggregate with `max` (not `sum`)."""

from __future__ import annotations

from prometheus_client import Gauge

PROCESSES_ALIVE = Gauge(
    "stellwerk_installation_processes_alive",
    "Stellwerk processes with a heartbeat in the last 45 s, by role (all, api, worker, redirect).",
    ["role"],
)
OPERATIONS = Gauge(
    "stellwerk_installation_operations",
    "Operations not yet finished, by status (queued, running, waiting).",
    ["status"],
)
QUEUED_BY_KIND = Gauge(
    "stellwerk_installation_operations_queued",
    "Queued operations, by kind.",
    ["kind"],
)
QUEUE_DEPTH = Gauge(
    "stellwerk_installation_workflow_queue",
    "Workflows waiting on (queued) or running from each engine queue (PostgreSQL only).",
    ["queue", "state"],
)
OLDEST_QUEUED_AGE = Gauge(
    "stellwerk_installation_oldest_queued_operation_age_seconds",
    "How long the oldest queued operation has waited (0: none waits).",
)
ROUTING_VERSION = Gauge(
    "stellwerk_installation_redirect_routing_version",
    "The redirect routing version the data plane follows (it moves with every change).",
)
ROLES = ("all", "api", "worker", "redirect")
STATUSES = ("queued", "running", "waiting")


def set_installation(
    *,
    alive: dict[str, int],
    operations: dict[str, int],
    queued_by_kind: dict[str, int],
    queues: dict[str, dict[str, int]],
    oldest_age: float,
    routing_version: int,
) -> None:
    for role in ROLES:
        PROCESSES_ALIVE.labels(role).set(alive.get(role, 0))
    for status in STATUSES:
        OPERATIONS.labels(status).set(operations.get(status, 0))
    QUEUED_BY_KIND.clear()  # kinds no longer queued disappear
    for kind, count in queued_by_kind.items():
        QUEUED_BY_KIND.labels(kind).set(count)
    QUEUE_DEPTH.clear()
    for queue, states in queues.items():
        for state, count in states.items():
            QUEUE_DEPTH.labels(queue, state).set(count)
    OLDEST_QUEUED_AGE.set(oldest_age)
    ROUTING_VERSION.set(routing_version)
