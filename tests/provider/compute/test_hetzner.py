"""Hetzner Cloud specifics the strict sandbox holds the adapter to: the server types Hetzner
sells today, deprecation per location, and 429s that carry no `Retry-After`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from stellwerk.provider.compute.base import Compute, CreateServer
from stellwerk.provider.error import VALIDATION_ERROR, ProviderError
from tests.provider.compute.conftest import Sandbox, make_compute


@pytest_asyncio.fixture
async def hetzner(compute_sandboxes: dict[str, Sandbox]) -> AsyncIterator[tuple[Compute, Sandbox]]:
    sandbox = compute_sandboxes["hetzner"]
    await sandbox.reset()
    adapter = make_compute(sandbox)
    yield adapter, sandbox
    await adapter.aclose()


async def test_the_plans_are_what_hetzner_sells_today(hetzner: tuple[Compute, Sandbox]) -> None:
    compute, _ = hetzner
    plans = {p.id: p for p in await compute.list_plans()}
    assert {"cx23", "cx33", "cpx22", "cax11", "ccx13"} <= set(plans)
    assert not {"cx22", "cx32", "cx42", "cpx11", "cpx21"} & set(plans)
    assert plans["cx23"].regions == ("fsn1", "nbg1", "hel1")  # the CX line is EU only
    assert "ash" in plans["cpx22"].regions


async def test_a_removed_server_type_cannot_be_ordered(hetzner: tuple[Compute, Sandbox]) -> None:
    compute, _ = hetzner
    request = CreateServer(
        name="old-1", plan="cx22", region="fsn1", image="ubuntu-24.04", marker=str(uuid.uuid4())
    )
    with pytest.raises(ProviderError) as caught:
        await compute.create_server(request=request)
    assert caught.value.code == VALIDATION_ERROR
    assert caught.value.field == "plan"


async def test_deprecation_is_per_location(hetzner: tuple[Compute, Sandbox]) -> None:
    """Hetzner retires a type location by location (`locations[].deprecation`); the top-level
    `deprecated` flag stays false while other locations still sell it."""
    compute, sandbox = hetzner
    gone = {"server_type": "cx33", "location": "nbg1", "unavailable_after": "2025-01-01T00:00:00Z"}
    response = await sandbox.control("POST", "catalog", {"deprecate": gone})
    assert response.status_code == 200
    plans = {p.id: p for p in await compute.list_plans()}
    assert plans["cx33"].available
    assert plans["cx33"].regions == ("fsn1", "hel1")
    request = CreateServer(
        name="late-1", plan="cx33", region="nbg1", image="ubuntu-24.04", marker=str(uuid.uuid4())
    )
    with pytest.raises(ProviderError) as caught:
        await compute.create_server(request=request)
    assert caught.value.code == VALIDATION_ERROR


async def test_a_429_without_retry_after_waits_for_one_token(
    hetzner: tuple[Compute, Sandbox],
) -> None:
    """Hetzner's bucket refills one request a second; its 429 has no `Retry-After` and its
    `RateLimit-Reset` is when the bucket is full again (an hour away). One second is enough."""
    compute, sandbox = hetzner
    await sandbox.fault(kind="rate_limit", count=1)
    started = time.monotonic()
    assert await compute.list_regions()
    waited = time.monotonic() - started
    assert 0.9 <= waited < 10
    assert len(await sandbox.requests()) == 2


async def test_the_sandboxs_429_looks_like_hetzners(hetzner: tuple[Compute, Sandbox]) -> None:
    import httpx

    _, sandbox = hetzner
    await sandbox.fault(kind="rate_limit", count=1)
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": "Bearer sandbox-x"}
    ) as http:
        response = await http.get("/locations")
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) >= time.time() + 3000
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


async def test_images_of_both_architectures_are_told_apart(
    compute_sandboxes: dict[str, Sandbox],
) -> None:
    sandbox = compute_sandboxes["hetzner"]
    adapter = make_compute(sandbox, token="sandbox-other")
    try:
        images = await adapter.list_images()
        names = [i.slug for i in images]
        assert names.count("ubuntu-24.04") == 2  # one per architecture
        assert len({i.label for i in images if i.slug == "ubuntu-24.04"}) == 2
    finally:
        await adapter.aclose()


async def test_locked_is_worth_another_try(hetzner: tuple[Compute, Sandbox]) -> None:
    """A server busy with another action answers 423 `locked`: not a lasting conflict."""
    compute, _ = hetzner
    created = await compute.create_server(
        request=CreateServer(
            name="busy-1",
            plan="cx23",
            region="fsn1",
            image="ubuntu-24.04",
            marker=str(uuid.uuid4()),
        )
    )
    with pytest.raises(ProviderError) as caught:
        await compute.power(server_id=created.server.id, action="reboot")
    assert caught.value.original["code"] == "locked"
    assert caught.value.transient
