"""The data plane's counters for Prometheus: requests answered and hits handed to the spool, per
worker, and hits the writer stored.

They live in shared memory made before the workers are forked (like `redirect.barrier`). The
hot path only increments the worker's own Python counters, as it always did; once a second (and
when it stops) a worker copies them into its slot, and the writer adds what it stored. Whoever
serves `/metrics` reads the slots: the API process of `stellwerk serve` (forked after them), or
in `stellwerk redirect serve` the hit writer on `STELLWERK_METRICS_PORT`. A slot keeps counting
when its worker is replaced, so the counters only grow (a restart of the whole data plane starts
them again, as for any process).
"""

from __future__ import annotations

import ctypes
import hmac
import multiprocessing
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from stellwerk.kit.http1 import Handler

PUBLISH_SECONDS = 1.0
_PER_WORKER = 2  # answered, spooled

# The counters of the data plane this process belongs to (set before the API is forked).
ACTIVE: DataPlaneCounters | None = None


class DataPlaneCounters:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        # Unsynchronised: each slot has one writing process, and aligned 64-bit stores are
        # read whole.
        self._values: Any = multiprocessing.RawArray(
            ctypes.c_uint64, self.workers * _PER_WORKER + 1
        )

    def worker(self, slot: int) -> tuple[int, int]:
        """What the worker in `slot` has counted so far (answered, spooled)."""
        base = slot * _PER_WORKER
        return int(self._values[base]), int(self._values[base + 1])

    def publish(self, slot: int, answered: int, spooled: int) -> None:
        base = slot * _PER_WORKER
        self._values[base] = answered
        self._values[base + 1] = spooled

    @property
    def written(self) -> int:
        return int(self._values[self.workers * _PER_WORKER])

    def add_written(self, count: int) -> None:
        """The writer's stored hits (one writer process at a time)."""
        if count:
            self._values[self.workers * _PER_WORKER] += count


class WorkerCounts:
    """A worker's view of its slot: what the workers before it in the slot counted, plus its
    own counts."""

    def __init__(self, counters: DataPlaneCounters, slot: int) -> None:
        self.counters = counters
        self.slot = slot
        self.answered, self.spooled = counters.worker(slot)

    def publish(self, answered: int, spooled: int) -> None:
        self.counters.publish(self.slot, self.answered + answered, self.spooled + spooled)


class DataPlaneCollector(Collector):
    def __init__(self, counters: DataPlaneCounters) -> None:
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        answered = CounterMetricFamily(
            "stellwerk_redirect_requests",
            "Requests the redirect data plane answered, by worker slot.",
            labels=["worker"],
        )
        spooled = CounterMetricFamily(
            "stellwerk_redirect_hits_spooled",
            "Hits the redirect data plane's workers handed to the spool, by worker slot.",
            labels=["worker"],
        )
        for slot in range(self.counters.workers):
            requests, hits = self.counters.worker(slot)
            answered.add_metric([str(slot)], requests)
            spooled.add_metric([str(slot)], hits)
        written = CounterMetricFamily(
            "stellwerk_redirect_hits_written",
            "Hits the redirect data plane's writer stored in the database.",
            value=self.counters.written,
        )
        yield from (answered, spooled, written)


def expose(counters: DataPlaneCounters, registry: Any = REGISTRY) -> None:
    """Add the data plane's counters to what `/metrics` shows in this process."""
    registry.register(DataPlaneCollector(counters))


def metrics_handler(counters: DataPlaneCounters, token: str | None) -> Handler:
    """A `kit.http1` handler answering `GET /metrics` with the data plane's counters, behind
    `token` (`STELLWERK_METRICS_TOKEN`) as a bearer token when one is set."""
    registry = CollectorRegistry(auto_describe=True)
    expose(counters, registry)
    kind = f"content-type: {CONTENT_TYPE_LATEST}\r\n".encode()

    def respond(
        method: bytes, path: bytes, query: bytes, headers: dict[bytes, bytes], peer: str
    ) -> tuple[int, bytes, bytes]:
        if path != b"/metrics":
            return 404, b"content-type: text/plain\r\n", b"Not found\n"
        if method not in (b"GET", b"HEAD"):
            return 405, b"allow: GET, HEAD\r\n", b""
        if token is not None:
            sent = headers.get(b"authorization", b"").decode("latin-1")
            sent = sent.removeprefix("Bearer ").strip()
            if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
                return (
                    401,
                    b"www-authenticate: Bearer\r\ncontent-type: text/plain\r\n",
                    b"Metrics need the configured bearer token\n",
                )
        return 200, kind, generate_latest(registry)

    return respond
