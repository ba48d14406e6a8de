from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import event

from stellwerk.runtime import Runtime
from tests.process import free_port


class TestServiceEndpoints:
    async def test_root_satisfies_every_document(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["service"] == "Stellwerk"
        assert body["timestamp"].endswith("Z")
        assert body["endpoints"]["docs"] == "/api/docs"

    async def test_health(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "healthy"
        assert response.json()["timestamp"].endswith("Z")

    async def test_status_lists_sandboxes_and_workers(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/status")).json()
        assert body["workers"]["running"] is True
        assert body["sandboxes"] == {}
        assert body["database"]["ok"] is True
        assert body["status"] == "ok"
        assert body["redis"] == {"configured": False, "ok": None}  # none configured

    async def test_status_is_degraded_while_redis_is_away_and_health_is_not(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        away = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        monkeypatch.setattr(
            runtime, "settings", runtime.settings.model_copy(update={"redis_url": away})
        )
        body = (await client.get("/status")).json()
        assert body["status"] == "degraded"
        assert body["redis"]["ok"] is False
        assert any("Redis is unreachable" in reason for reason in body["reasons"])
        assert (await client.get("/health")).status_code == 200  # liveness, not Redis

    async def test_metrics_in_prometheus_format(self, client: httpx.AsyncClient) -> None:
        await client.get("/health")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "stellwerk_http_requests_total" in response.text

    async def test_docs_and_openapi(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/docs")).status_code == 200
        assert (await client.get("/api/redoc")).status_code == 200
        spec = (await client.get("/api/openapi.json")).json()
        assert "/api/tokens" in spec["paths"]

    async def test_unknown_route_uses_the_generic_envelope(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "code": "not_found", "detail": "Not Found"}

    async def test_request_id_is_returned(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"X-Request-Id": "abc123"})
        assert response.headers["x-request-id"] == "abc123"

    async def test_oversized_body_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/auth/login",
            content=b"x" * 16,
            headers={"content-length": str(11 * 1024 * 1024), "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"


class TestHealthUnderLoad:
    async def test_the_database_is_asked_at_most_once_a_second(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        asked: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement == "SELECT 1":
                asked.append(statement)

        database = runtime.database
        database._checked_at = None  # as in a process that has not checked yet
        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            first = await asyncio.gather(*(client.get("/health") for _ in range(50)))
            again = await asyncio.gather(*(client.get("/health") for _ in range(50)))
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", count)
        assert {r.status_code for r in first + again} == {200}
        assert len(asked) == 1

    async def test_an_unreachable_database_turns_health_unhealthy(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        database = runtime.database

        async def down() -> bool:
            return False

        monkeypatch.setattr(database, "_ping", down)
        database._checked_at = None
        response = await client.get("/health")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "unavailable"}
        monkeypatch.undo()
        database._checked_at = None
        assert (await client.get("/health")).status_code == 200
