"""No workflow step holds a database transaction while a provider is asked: every call to the
registrar, DNS and Coolify adapters during provisioning, rollback and deletion is made with no
transaction of the calling task open. A crash between buying the domain and recording it buys
nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stellwerk.models import RegistrarDomain
from stellwerk.provider import connect
from stellwerk.provider.error import API_ERROR, ProviderError
from stellwerk.registrar.service import registrar as registrar_service
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.project.factories import wait_for_project
from tests.provider.running import Sandboxes
from tests.transactions import transactions_watched


@dataclass
class Call:
    kind: str
    method: str
    in_transaction: bool


@dataclass
class Calls:
    made: list[Call] = field(default_factory=list)

    def of(self, kind: str, *methods: str) -> list[Call]:
        return [c for c in self.made if c.kind == kind and (not methods or c.method in methods)]

    def with_transaction(self) -> list[Call]:
        return [c for c in self.made if c.in_transaction]


class _Watched:
    """An adapter whose every call notes whether the calling task has a transaction open."""

    def __init__(self, adapter: Any, kind: str, calls: Calls, open_in: Any) -> None:
        self._adapter, self._kind, self._calls, self._open_in = adapter, kind, calls, open_in

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._adapter, name)
        if name == "aclose" or not callable(value) or not asyncio.iscoroutinefunction(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.made.append(Call(self._kind, name, self._open_in()))
            return await value(*args, **kwargs)

        return call


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Watch every adapter `connect` opens, and every ORM transaction: which task began it."""
    watched = Calls()
    original = connect._open
    with transactions_watched() as open_in:

        def opened(settings: Any, provider: str, kind: str) -> Any:
            return _Watched(original(settings, provider, kind), kind, watched, open_in)

        monkeypatch.setattr(connect, "_open", opened)
        yield watched


async def _provision(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, domain: str
) -> dict[str, Any]:
    body = {"name": name, "domain": domain, "plugins": ["core"], "register_domain": True}
    response = await client.post("/api/projects", headers=headers, json=body)
    assert response.status_code == 202, response.text
    return await wait_for_project(client, headers, int(response.json()["id"]), timeout=90)


async def _domain_rows(runtime: Runtime, name: str) -> int:
    async with runtime.database.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(RegistrarDomain)
                .where(RegistrarDomain.name == name)
            )
            or 0
        )


async def test_watcher_sees_a_transaction_held_across_a_call(
    runtime: Runtime, sandboxes: Sandboxes, calls: Calls
) -> None:
    """The check itself: a call made inside a session's transaction is noticed."""
    async with runtime.database.session() as session:
        await session.execute(select(1))
        async with connect.registrar(runtime.settings) as registrar:
            await registrar.check(domains=["watched-shop.de"])
    async with connect.registrar(runtime.settings) as registrar:
        await registrar.check(domains=["watched-shop.de"])
    assert [c.in_transaction for c in calls.of("registrar", "check")] == [True, False]


async def test_provisioning_asks_providers_with_no_transaction_open(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes, calls: Calls
) -> None:
    headers = await admin_headers(runtime)
    project = await _provision(client, headers, "calm", "calm-shop.de")

    assert project["state"] == "active", project
    # The domain step asked the registrar (looked, checked, bought) and the DNS provider (zone).
    asked = {c.method for c in calls.of("registrar")}
    assert {"domain_info", "check", "register"} <= asked
    assert {"get_zone", "create_zone"} <= {c.method for c in calls.of("dns")}
    assert calls.of("paas")
    assert calls.with_transaction() == []
    assert list(sandboxes.inwx_state["domains"]) == ["calm-shop.de"]


async def test_a_crash_before_the_purchase_is_recorded_buys_nothing_twice(
    client: httpx.AsyncClient,
    runtime: Runtime,
    sandboxes: Sandboxes,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The domain is bought, then recording it fails (as a crash would lose it): the retried
    step finds the domain in the registrar account and records it; nothing is bought again."""
    record = registrar_service.record
    failures: list[str] = []

    async def record_once_failing(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("record")
            raise ProviderError(API_ERROR, "the database went away", provider="stellwerk")
        return await record(*args, **kwargs)

    monkeypatch.setattr(registrar_service, "record", record_once_failing)
    headers = await admin_headers(runtime)
    project = await _provision(client, headers, "twice", "twice-shop.de")

    assert failures == ["record"]
    assert project["state"] == "active", project
    assert len(calls.of("registrar", "register")) == 1
    assert len(calls.of("registrar", "domain_info")) >= 2  # looked again on the retry
    assert list(sandboxes.inwx_state["domains"]) == ["twice-shop.de"]
    assert await _domain_rows(runtime, "twice-shop.de") == 1
    zones = (await client.get("/api/dns/zones", headers=headers)).json()
    assert [z["name"] for z in zones].count("twice-shop.de") == 1
    assert calls.with_transaction() == []


async def test_rollback_and_delete_remove_with_no_transaction_open(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: Sandboxes, calls: Calls
) -> None:
    headers = await admin_headers(runtime)
    # Rolled back: the application cannot be created, what was made before is removed again.
    await sandboxes.control(
        sandboxes.coolify,
        "faults",
        {
            "kind": "status",
            "status": 503,
            "count": 100,
            "method": "POST",
            "path": "/api/v1/applications/public",
        },
    )
    failed = await _provision(client, headers, "undone", "undone-shop.de")
    assert failed["state"] == "error", failed
    assert sandboxes.coolify_state["projects"] == {}
    assert calls.of("paas", "delete_project")
    assert calls.of("dns", "delete_record")
    assert calls.with_transaction() == []

    # Deleted: the application, the Coolify project and the records go.
    async with httpx.AsyncClient() as http:
        await http.delete(f"http://127.0.0.1:{sandboxes.coolify.port}/__sandbox__/faults")
    removed_before = len(calls.of("paas", "delete_application", "delete_project"))
    project = await _provision(client, headers, "gone", "gone-shop.de")
    assert project["state"] == "active", project
    response = await client.delete(f"/api/projects/{project['id']}", headers=headers)
    assert response.status_code == 202, response.text
    operation_id = response.json()["operation"]["id"]
    for _ in range(300):
        body = (await client.get(f"/api/operations/{operation_id}", headers=headers)).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    assert body["status"] == "completed", body
    assert sandboxes.coolify_state["applications"] == {}
    assert len(calls.of("paas", "delete_application", "delete_project")) >= removed_before + 2
    assert calls.with_transaction() == []
