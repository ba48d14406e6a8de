"""Compute fixtures: the three compute sandboxes (one each per test session, reset before every
test) and a ready `Compute` adapter per provider for the contract suite.

`COMPUTE` maps a provider to what its tests need: the sandbox factory, the URL suffix its client
takes, and the catalog entries the seed's examples name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import constant_backoff
from stellwerk.provider.compute.base import Compute
from stellwerk.provider.compute.digitalocean import sandbox as digitalocean_sandbox
from stellwerk.provider.compute.hetzner import sandbox as hetzner_sandbox
from stellwerk.provider.compute.linode import sandbox as linode_sandbox
from stellwerk.provider.connect import open_compute
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server

PROVISION_DELAY = 0.4
ACTION_DELAY = 0.2
TOKEN = "sandbox-compute-token"


@dataclass(frozen=True)
class ComputeCase:
    name: str
    factory: Callable[..., Any]
    suffix: str
    plan: str
    region: str
    image: str
    other_plan: str


COMPUTE: dict[str, ComputeCase] = {
    "hetzner": ComputeCase(
        "hetzner", hetzner_sandbox.create_app, "/v1", "cx23", "fsn1", "ubuntu-24.04", "cpx22"
    ),
    "linode": ComputeCase(
        "linode",
        linode_sandbox.create_app,
        "/v4",
        "g6-nanode-1",
        "us-east",
        "linode/ubuntu22.04",
        "g6-standard-1",
    ),
    "digitalocean": ComputeCase(
        "digitalocean",
        digitalocean_sandbox.create_app,
        "",
        "s-1vcpu-1gb",
        "nyc3",
        "ubuntu-22-04-x64",
        "s-1vcpu-2gb",
    ),
}


class Sandbox:
    """A running sandbox and its control endpoints."""

    def __init__(self, running: RunningSandbox, case: ComputeCase) -> None:
        self.running = running
        self.case = case
        self.url = running.url
        self.root = f"http://127.0.0.1:{running.port}"

    async def control(self, method: str, action: str, body: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.root, timeout=10) as http:
            return await http.request(method, f"/__sandbox__/{action}", json=body)

    async def reset(self) -> None:
        await self.control("POST", "reset")

    async def fault(self, **fault: Any) -> None:
        response = await self.control("POST", "faults", fault)
        assert response.status_code == 204

    async def requests(self) -> list[dict[str, Any]]:
        body = (await self.control("GET", "requests")).json()
        return list(body["requests"])


@pytest_asyncio.fixture(scope="session")
async def compute_sandboxes() -> AsyncIterator[dict[str, Sandbox]]:
    started: dict[str, Sandbox] = {}
    for name, case in COMPUTE.items():
        app = case.factory(None, provision_delay=PROVISION_DELAY, action_delay=ACTION_DELAY)
        running = await start_server(app, name=name, suffix=case.suffix)
        started[name] = Sandbox(running, case)
    yield started
    for sandbox in started.values():
        await sandbox.running.stop()


@pytest_asyncio.fixture(params=sorted(COMPUTE))
async def compute_sandbox(
    request: pytest.FixtureRequest, compute_sandboxes: dict[str, Sandbox]
) -> Sandbox:
    sandbox = compute_sandboxes[request.param]
    await sandbox.reset()
    return sandbox


def make_compute(
    sandbox: Sandbox,
    *,
    token: str = TOKEN,
    budgets: dict[str, tuple[str, ...]] | None = None,
    limiter: RateLimiter | None = None,
) -> Compute:
    return open_compute(
        sandbox.case.name,
        token=token,
        limiter=limiter or RateLimiter(None),
        base_url=sandbox.url,
        budgets=budgets,
        backoff=constant_backoff(0.05),
        poll_interval=0.05,
    )


@pytest_asyncio.fixture
async def compute(compute_sandbox: Sandbox) -> AsyncIterator[Compute]:
    adapter = make_compute(compute_sandbox)
    yield adapter
    await adapter.aclose()
