"""`/status` and `/metrics` describe the installation (every process answers the same, from the
database), and a worker serves `/metrics` on a port of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.kit.time import utc_now
from stellwerk.models import Operation, ProcessHeartbeat
from stellwerk.redirect.dataplane import DataPlane
from stellwerk.redirect.repository import RoutingStateRepository
from stellwerk.runtime import Runtime
from stellwerk.serve import metrics_listener
from stellwerk.system import service as system_service
from stellwerk.system.service import ProcessIdentity
from tests.factories import admin_headers, bearer, create_user, jwt_for


async def _add_operation(runtime: Runtime, *, status: str, age_seconds: float) -> Operation:
    operation = Operation(
        kind="servers.create",
        idempotency_key=uuid.uuid4().hex,
        status=status,
        created_at=utc_now() - dt.timedelta(seconds=age_seconds),
    )
    async with runtime.database.session() as session:
        session.add(operation)
    return operation


async def _add_process(runtime: Runtime, process_id: str, role: str, *, age: float) -> None:
    seen = utc_now() - dt.timedelta(seconds=age)
    async with runtime.database.session() as session:
        session.add(
            ProcessHeartbeat(
                process_id=process_id,
                role=role,
                hostname="other-host",
                pid=4242,
                version="1",
                executor_id=process_id.split(":", 1)[1],
                started_at=seen,
                seen_at=seen,
            )
        )


@pytest_asyncio.fixture
async def installation(app: FastAPI, runtime: Runtime) -> AsyncIterator[ProcessIdentity]:
    """This process's heartbeat (the tables were emptied), a worker elsewhere and one gone."""
    identity: ProcessIdentity = app.state.process_identity
    await system_service.heartbeat(runtime.database, identity)
    await _add_process(runtime, "worker:host-b-worker-1", "worker", age=5)
    await _add_process(runtime, "worker:host-b-worker-2", "worker", age=120)  # stopped
    yield identity


async def test_status_reports_the_installation(
    client: httpx.AsyncClient, runtime: Runtime, installation: ProcessIdentity
) -> None:
    oldest = await _add_operation(runtime, status="queued", age_seconds=90)
    await _add_operation(runtime, status="queued", age_seconds=10)
    await _add_operation(runtime, status="running", age_seconds=30)
    await _add_operation(runtime, status="completed", age_seconds=300)
    async with runtime.database.session() as session:
        await RoutingStateRepository(session).bump()
        version = await RoutingStateRepository(session).version()

    assert (await client.get("/status")).json()["installation"] is None  # not for everyone
    customer = bearer(jwt_for(runtime, await create_user(runtime)))
    assert (await client.get("/status", headers=customer)).json()["installation"] is None
    body = (await client.get("/status", headers=await admin_headers(runtime))).json()
    assert body["status"] == "ok"
    assert body["reasons"] == []
    assert body["redis"] == {"configured": False, "ok": None}
    state = body["installation"]
    ids = {p["id"]: p for p in state["processes"]}
    assert set(ids) == {installation.process_id, "worker:host-b-worker-1"}
    worker = ids["worker:host-b-worker-1"]
    assert worker["hostname"] == "other-host"
    assert worker["last_heartbeat"].endswith("Z")
    assert 4 <= worker["seconds_since_heartbeat"] < 60
    assert state["workers_alive"] == 2  # this process runs workflows too (role all)
    assert state["operations"] == {"queued": 2, "running": 1, "waiting": 0}
    assert state["queued_by_kind"] == {"servers.create": 2}
    assert state["oldest_queued_operation"]["id"] == str(oldest.id)
    assert state["oldest_queued_operation"]["age_seconds"] >= 89
    assert state["redirect_routing_version"] == version >= 1
    assert isinstance(state["queues"], dict)


async def test_the_metrics_token_sees_the_installation(
    app: FastAPI, runtime: Runtime, installation: ProcessIdentity
) -> None:
    settings = runtime.settings.model_copy(update={"metrics_token": SecretStr("scrape-token")})
    monitored = dataclasses.replace(runtime, settings=settings)
    original = app.state.runtime
    app.state.runtime = monitored
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            seen = await http.get("/status", headers=bearer("scrape-token"))
            wrong = await http.get("/status", headers=bearer("not-the-token"))
    finally:
        app.state.runtime = original
    assert seen.json()["installation"]["workers_alive"] == 2
    assert wrong.status_code == 401


async def test_a_graceful_stop_leaves_the_installation(
    runtime: Runtime, installation: ProcessIdentity
) -> None:
    await system_service.leave(runtime.database, installation)
    state = await system_service.installation_state(runtime.database)
    assert [p["id"] for p in state["processes"]] == ["worker:host-b-worker-1"]


async def test_unreachable_redis_shows_as_degraded(runtime: Runtime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    url = f"redis://127.0.0.1:{port}/0"
    elsewhere = Runtime(
        settings=runtime.settings.model_copy(update={"redis_url": url}),
        database=runtime.database,
        limiter=RateLimiter(url),
        master_key=runtime.master_key,
    )
    body = await system_service.status(elsewhere)
    assert body["redis"]["configured"] is True
    assert body["redis"]["ok"] is False
    assert body["redis"]["error"]  # why, for the operator
    assert body["status"] == "degraded"
    assert body["reasons"] == [system_service.REDIS_AWAY]


async def test_metrics_are_the_installations_computed_when_scraped(
    client: httpx.AsyncClient, runtime: Runtime, installation: ProcessIdentity
) -> None:
    await _add_operation(runtime, status="queued", age_seconds=60)
    # Written by another process: no counter of this one moved, the gauges still show it.
    text = (await client.get("/metrics")).text
    for line in (
        'stellwerk_installation_processes_alive{role="worker"} 1.0',
        'stellwerk_installation_processes_alive{role="all"} 1.0',
        'stellwerk_installation_operations{status="queued"} 1.0',
        'stellwerk_installation_operations_queued{kind="servers.create"} 1.0',
        "stellwerk_installation_redirect_routing_version",
    ):
        assert line in text, line
    age = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("stellwerk_installation_oldest_queued_operation_age_seconds ")
    )
    assert age >= 59


async def test_a_worker_serves_metrics_on_its_own_port(
    app: FastAPI, runtime: Runtime, installation: ProcessIdentity
) -> None:
    settings = runtime.settings.model_copy(
        update={"metrics_port": 0, "metrics_token": SecretStr("scrape-token")}
    )
    urls: dict[str, str] = {}
    try:
        async with metrics_listener(app, settings, urls), httpx.AsyncClient() as http:
            url = urls["metrics"]
            assert url.startswith("http://127.0.0.1:")
            assert (await http.get(url)).status_code == 401
            scraped = await http.get(url, headers={"Authorization": "Bearer scrape-token"})
            assert scraped.status_code == 200
            assert "stellwerk_installation_processes_alive" in scraped.text
            assert (await http.get(url.replace("/metrics", "/status"))).status_code == 404
            # Its address is in the installation's status, for whoever scrapes.
            state = await system_service.installation_state(runtime.database)
            mine = next(p for p in state["processes"] if p["id"] == installation.process_id)
            assert url == f"http://{mine['metrics']}/metrics"
    finally:
        installation.metrics_address = f"{runtime.settings.host}:{runtime.settings.port}"


async def test_no_metrics_port_no_listener(app: FastAPI, runtime: Runtime) -> None:
    urls: dict[str, str] = {}
    async with metrics_listener(app, runtime.settings, urls):
        assert "metrics" not in urls


async def test_data_plane_workers_report_their_routing_version(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        await RoutingStateRepository(session).bump()
        version = await RoutingStateRepository(session).version()
    plane = DataPlane.from_settings(runtime.settings, spool=True)  # as a worker process does
    await plane.start()
    try:
        for _ in range(100):
            state = await system_service.installation_state(runtime.database)
            if state["redirect_workers_alive"]:
                break
            await asyncio.sleep(0.05)
        mine = next((p for p in state["processes"] if p["id"].startswith("redirect:")), None)
        assert mine is not None, "no heartbeat from the data plane worker within 5 s"
        assert mine["routing_version"] == version == state["redirect_routing_version"]
    finally:
        await plane.stop()
    state = await system_service.installation_state(runtime.database)
    assert state["redirect_workers_alive"] == 0  # a graceful stop leaves
