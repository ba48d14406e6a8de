"""Prometheus metrics shared by every surface. Domain counters live next to their service.

What is counted on every request is kept as plain numbers per label set and made into
Prometheus samples only when `/metrics` is read (`HttpMetrics`, `Tally`): a counter and a
histogram of the client library take a lock (and walk their buckets in Python) on every
increment, which under license client load cost several microseconds a request. These are
counted on the event loop's thread."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_SERIES = 10_000  # routes are templates, but methods vary: past this, a new method is OTHER


class HttpMetrics(Collector):
    """`stellwerk_http_requests_total` (method, route, status) and
    `stellwerk_http_request_duration_seconds` (method, route).

    `observe` runs on the event loop's thread only; a scrape (any thread) copies each series
    whole, so it never sees a count without its sum."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.buckets = buckets
        # Per (method, route, status): the count in each bucket (the last: above all), the sum.
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._new_series(method, route, status)
        series[bisect_left(self.buckets, seconds)] += 1
        series[-1] += seconds

    def _new_series(self, method: str, route: str, status: int) -> list[float]:
        if len(self._series) >= MAX_SERIES:
            method = "OTHER"
            known = self._series.get((method, route, status))
            if known is not None:
                return known
        series = self._series[(method, route, status)] = [0.0] * (len(self.buckets) + 2)
        return series

    def clear(self) -> None:
        self._series = {}

    def collect(self) -> Iterator[Metric]:
        snapshot = [(key, list(series)) for key, series in list(self._series.items())]
        requests = CounterMetricFamily(
            "stellwerk_http_requests",
            "HTTP requests answered, by method, route and status.",
            labels=["method", "route", "status"],
        )
        durations: dict[tuple[str, str], list[float]] = {}
        for (method, route, status), series in snapshot:
            requests.add_metric([method, route, str(status)], sum(series[:-1]))
            total = durations.setdefault((method, route), [0.0] * len(series))
            for index, value in enumerate(series):
                total[index] += value
        yield requests
        histogram = HistogramMetricFamily(
            "stellwerk_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            labels=["method", "route"],
        )
        bounds = [*(floatToGoString(b) for b in self.buckets), "+Inf"]  # type: ignore[no-untyped-call]
        for (method, route), series in durations.items():
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, series[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric([method, route], cumulative, sum_value=series[-1])
        yield histogram


class TallyChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class Tally(Collector):
    """A counter (`labels(...).inc()`, or `inc()` without labels) kept as plain numbers."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...] = (),
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = labels
        self._children: dict[tuple[str, ...], TallyChild] = {}
        if not labels:
            self._children[()] = TallyChild()
        registry.register(self)

    def labels(self, *values: str) -> TallyChild:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.label_names):
                raise ValueError(f"{self.name} takes the labels {self.label_names}")
            child = self._children.setdefault(values, TallyChild())
        return child

    def inc(self, amount: float = 1.0) -> None:
        self._children[()].inc(amount)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=list(self.label_names))
        for values, child in list(self._children.items()):
            family.add_metric(list(values), child.value)
        yield family


HTTP = HttpMetrics()
REGISTRY.register(HTTP)
