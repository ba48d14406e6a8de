"""The data plane can be scraped: requests answered and hits spooled per worker, hits written by
the writer, counted in shared memory and served on `/metrics` (the writer's port for
`stellwerk redirect serve`, the API's `/metrics` for `stellwerk serve`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from stellwerk import migrate
from stellwerk.config import Settings
from stellwerk.redirect.counters import (
    DataPlaneCounters,
    WorkerCounts,
    expose,
    metrics_handler,
)
from stellwerk.redirect.workers import DataPlaneWorkers

TOKEN = "scrape-token"


def _settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        secret_key="test-secret-key-not-for-production",
        sandbox=False,
        host="127.0.0.1",
        redirect_port=0,
        redirect_hit_flush_seconds=0.2,
        metrics_token=SecretStr(TOKEN),
    )


def _samples(text: str) -> dict[str, float]:
    """`name{worker="0"}` → value, and `name` → the sum over its labels."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
            if labels:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def test_a_slot_keeps_counting_when_its_worker_is_replaced() -> None:
    counters = DataPlaneCounters(2)
    first = WorkerCounts(counters, 1)
    first.publish(answered=7, spooled=5)
    replacement = WorkerCounts(counters, 1)  # the old worker died after its last publish
    replacement.publish(answered=2, spooled=2)
    counters.add_written(6)
    registry = CollectorRegistry()
    expose(counters, registry)
    values = {
        (s.name, s.labels.get("worker")): s.value
        for family in registry.collect()
        for s in family.samples
    }
    assert values[("stellwerk_redirect_requests_total", "1")] == 9
    assert values[("stellwerk_redirect_hits_spooled_total", "1")] == 7
    assert values[("stellwerk_redirect_requests_total", "0")] == 0
    assert values[("stellwerk_redirect_hits_written_total", None)] == 6


def test_metrics_need_the_token_when_one_is_set() -> None:
    counters = DataPlaneCounters(1)
    counters.publish(0, 3, 3)
    respond = metrics_handler(counters, TOKEN)
    assert respond(b"GET", b"/metrics", b"", {}, "127.0.0.1")[0] == 401
    wrong = {b"authorization": b"Bearer nope"}
    assert respond(b"GET", b"/metrics", b"", wrong, "127.0.0.1")[0] == 401
    right = {b"authorization": f"Bearer {TOKEN}".encode()}
    status, headers, body = respond(b"GET", b"/metrics", b"", right, "127.0.0.1")
    assert status == 200
    assert headers.startswith(b"content-type: text/plain")
    assert _samples(body.decode())['stellwerk_redirect_requests_total{worker="0"}'] == 3
    assert respond(b"GET", b"/other", b"", right, "127.0.0.1")[0] == 404
    assert metrics_handler(counters, None)(b"GET", b"/metrics", b"", {}, "127.0.0.1")[0] == 200


def _scrape_until(url: str, expected: dict[str, float], timeout: float = 20.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    values: dict[str, float] = {}
    while time.monotonic() < deadline:
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=15)
        assert response.status_code == 200, response.text
        values = _samples(response.text)
        if all(values.get(name) == value for name, value in expected.items()):
            return values
        time.sleep(0.2)
    raise AssertionError(f"{expected} not reached: {values}")


def test_redirect_serve_answers_metrics_on_its_port(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    migrate.upgrade(settings.resolved_database_url)
    plane = DataPlaneWorkers(settings, "127.0.0.1", 0, 2, metrics_port=0)
    plane.start()
    try:
        url = plane.metrics_url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/metrics")
        assert httpx.get(url, timeout=15).status_code == 401
        # Wait until both workers listen, then answer 20 requests (unknown hosts: 404s).
        deadline = time.monotonic() + 20
        while len(plane._ready) < 2 and time.monotonic() < deadline:
            plane.replace_dead()
            time.sleep(0.1)
        with httpx.Client(base_url=plane.url, timeout=15) as http:
            for n in range(20):
                assert http.get(f"/p{n}", headers={"Host": "nowhere.example"}).status_code == 404
        expected = {
            "stellwerk_redirect_requests_total": 20,
            "stellwerk_redirect_hits_spooled_total": 20,
            "stellwerk_redirect_hits_written_total": 20,
        }
        values = _scrape_until(url, expected)
        assert set(values) >= {
            'stellwerk_redirect_requests_total{worker="0"}',
            'stellwerk_redirect_requests_total{worker="1"}',
        }
        # A worker killed outright is replaced; what it counted stays counted.
        victim = plane.processes[0]
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        plane.replace_dead()
        deadline = time.monotonic() + 20
        while len(plane._ready) < 2 and time.monotonic() < deadline:
            plane.replace_dead()
            time.sleep(0.1)
        with httpx.Client(base_url=plane.url, timeout=15) as http:
            for n in range(5):
                http.get(f"/q{n}", headers={"Host": "nowhere.example"})
        _scrape_until(
            url,
            {
                "stellwerk_redirect_requests_total": 25,
                "stellwerk_redirect_hits_spooled_total": 25,
                "stellwerk_redirect_hits_written_total": 25,
            },
        )
    finally:
        plane.stop()
