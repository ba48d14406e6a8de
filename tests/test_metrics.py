"""`metrics.HttpMetrics`: plain counts per label set, shown as Prometheus counters and
histograms with the usual semantics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stellwerk import metrics
from stellwerk.metrics import HttpMetrics


def samples(collector: HttpMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counts_and_buckets() -> None:
    http = HttpMetrics(buckets=(0.01, 0.1))
    http.observe("GET", "/health", 200, 0.01)  # on a bound: counted in that bucket (le)
    http.observe("GET", "/health", 200, 0.05)
    http.observe("GET", "/health", 503, 3.0)  # above every bound: only in +Inf
    http.observe("POST", "/api/license/verify", 200, 0.002)
    found = samples(http)
    health = (("method", "GET"), ("route", "/health"))
    assert found[("stellwerk_http_requests_total", (*health, ("status", "200")))] == 2
    assert found[("stellwerk_http_requests_total", (*health, ("status", "503")))] == 1
    bucket = "stellwerk_http_request_duration_seconds_bucket"
    assert found[(bucket, (("le", "0.01"), *health))] == 1
    assert found[(bucket, (("le", "0.1"), *health))] == 2
    assert found[(bucket, (("le", "+Inf"), *health))] == 3
    assert found[("stellwerk_http_request_duration_seconds_count", health)] == 3
    assert abs(found[("stellwerk_http_request_duration_seconds_sum", health)] - 3.06) < 1e-9
    verify = (("method", "POST"), ("route", "/api/license/verify"))
    assert found[(bucket, (("le", "0.01"), *verify))] == 1


def test_label_sets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes are templates, but a client can send any method: past the bound, new methods are
    counted as OTHER instead of growing the series without end."""
    monkeypatch.setattr(metrics, "MAX_SERIES", 3)
    http = HttpMetrics()
    for method in ("A", "B", "C", "D", "E"):
        http.observe(method, "/x", 404, 0.001)
    found = samples(http)
    counted = {
        dict(labels)["method"]: value
        for (name, labels), value in found.items()
        if name == "stellwerk_http_requests_total"
    }
    assert counted == {"A": 1, "B": 1, "C": 1, "OTHER": 2}


def test_a_tally_reads_like_a_counter() -> None:
    registry = CollectorRegistry()
    results = metrics.Tally("test_results_total", "Results.", ("result",), registry=registry)
    results.labels("valid").inc()
    results.labels("valid").inc(2)
    results.labels("expired").inc()
    beats = metrics.Tally("test_beats_total", "Beats.", registry=registry)
    beats.inc()
    text = generate_latest(registry).decode()
    assert 'test_results_total{result="valid"} 3.0' in text
    assert 'test_results_total{result="expired"} 1.0' in text
    assert "test_beats_total 1.0" in text
    with pytest.raises(ValueError, match="takes the labels"):
        results.labels("valid", "extra")
