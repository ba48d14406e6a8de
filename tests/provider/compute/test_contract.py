"""The `Compute` contract: every compute adapter behaves the same (one run per provider)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from stellwerk.provider.action import constant_backoff
from stellwerk.provider.compute.base import Compute, CreateServer, Server
from stellwerk.provider.error import (
    INVALID_ACTION,
    INVALID_CREDENTIALS,
    NOT_FOUND,
    VALIDATION_ERROR,
    ProviderError,
)
from tests.provider.compute.conftest import Sandbox, make_compute

FAST = constant_backoff(0.05)


def _request(sandbox: Sandbox, **changes: object) -> CreateServer:
    case = sandbox.case
    values: dict[str, object] = {
        "name": f"web-{uuid.uuid4().hex[:8]}",
        "plan": case.plan,
        "region": case.region,
        "image": case.image,
        "marker": str(uuid.uuid4()),
        "root_password": "Sandbox-Password-123!",
        "tags": ["production"],
    }
    values.update(changes)
    return CreateServer(**values)  # type: ignore[arg-type]


async def _running(compute: Compute, server_id: str, status: str = "running") -> Server:
    for _ in range(100):
        server = await compute.get_server(server_id=server_id)
        if server.status == status:
            return server
        await FAST_SLEEP()
    raise AssertionError(f"server {server_id} never became {status}")


async def FAST_SLEEP() -> None:

    await asyncio.sleep(0.05)


def test_protocol(compute: Compute) -> None:
    assert isinstance(compute, Compute)


async def test_credentials(compute: Compute, compute_sandbox: Sandbox) -> None:
    await compute.verify_credentials()
    bad = make_compute(compute_sandbox, token="not-a-sandbox-token")
    with pytest.raises(ProviderError) as caught:
        await bad.verify_credentials()
    await bad.aclose()
    assert caught.value.code == INVALID_CREDENTIALS
    assert caught.value.provider == compute_sandbox.case.name


async def test_catalogs_hold_the_seed_examples(compute: Compute, compute_sandbox: Sandbox) -> None:
    case = compute_sandbox.case
    plans = {p.id: p for p in await compute.list_plans()}
    assert case.plan in plans
    plan = plans[case.plan]
    assert plan.vcpus >= 1
    assert plan.memory >= 512
    assert plan.disk >= 10
    assert plan.price_monthly > 0
    assert plan.price_hourly > 0
    images = await compute.list_images()
    assert case.image in {i.slug for i in images}
    assert {i.type for i in images} <= {"distribution", "application", "custom"}
    distributions = await compute.list_images(type="distribution")
    assert distributions
    assert all(i.type == "distribution" for i in distributions)
    regions = {r.id: r for r in await compute.list_regions()}
    assert regions[case.region].available


async def test_marketplace(compute: Compute, compute_sandbox: Sandbox) -> None:
    apps = {a.slug: a for a in await compute.list_marketplace()}
    if compute_sandbox.case.name == "digitalocean":
        assert apps["wordpress"].image_slug == "wordpress-20-04"
        assert apps["wordpress"].name == "WordPress"
        assert "ubuntu-22-04-x64" in apps["wordpress"].compatible_images
    elif compute_sandbox.case.name == "linode":
        assert "12345" in apps
        assert apps["12345"].user_defined_fields[0]["name"] == "hostname"
    else:
        assert apps == {}


async def test_create_wait_find_list_delete(compute: Compute, compute_sandbox: Sandbox) -> None:
    request = _request(compute_sandbox)
    created = await compute.create_server(request=request)
    assert created.server.status == "provisioning"
    assert created.server.name == request.name
    assert created.server.marker == request.marker
    if created.action is not None:
        finished = await created.action.wait_until_finished(backoff=FAST, max_retries=100)
        assert finished.status == "success"
    server = await _running(compute, created.server.id)
    assert server.ipv4 is not None
    assert server.ipv6 is not None
    assert server.region == request.region
    assert server.plan == request.plan
    assert server.memory
    assert server.vcpus
    assert "production" in server.tags

    found = await compute.find_server(marker=request.marker)
    assert found is not None
    assert found.id == created.server.id
    assert await compute.find_server(marker=str(uuid.uuid4())) is None
    assert created.server.id in {s.id for s in await compute.list_servers()}

    action = await compute.delete_server(server_id=created.server.id)
    if action is not None:
        await action.wait_until_finished(backoff=FAST, max_retries=100)
    with pytest.raises(ProviderError) as caught:
        await compute.get_server(server_id=created.server.id)
    assert caught.value.code == NOT_FOUND


async def test_power_actions(compute: Compute, compute_sandbox: Sandbox) -> None:
    created = await compute.create_server(request=_request(compute_sandbox))
    await _running(compute, created.server.id)
    for action, status in (("shutdown", "off"), ("power_on", "running"), ("reboot", "running")):
        result = await compute.power(server_id=created.server.id, action=action)
        if result is not None:
            await result.wait_until_finished(backoff=FAST, max_retries=100)
        await _running(compute, created.server.id, status)
    if compute_sandbox.case.name == "digitalocean":
        assert "power_cycle" in compute.power_actions
        cycled = await compute.power(server_id=created.server.id, action="power_cycle")
        assert cycled is not None
        assert (await cycled.wait_until_finished(backoff=FAST)).status == "success"
    else:
        assert "power_cycle" not in compute.power_actions
        with pytest.raises(ProviderError) as caught:
            await compute.power(server_id=created.server.id, action="power_cycle")
        assert caught.value.code == INVALID_ACTION


@pytest.mark.parametrize("field", ["plan", "region", "image"])
async def test_unknown_catalog_entry_is_a_validation_error(
    compute: Compute, compute_sandbox: Sandbox, field: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await compute.create_server(request=_request(compute_sandbox, **{field: "no-such-thing"}))
    assert caught.value.code == VALIDATION_ERROR
    assert caught.value.field == field
    assert await compute.list_servers() == []


async def test_missing_server_is_not_found(compute: Compute) -> None:
    for server_id in ("987654", "not-a-number"):
        with pytest.raises(ProviderError) as caught:
            await compute.get_server(server_id=server_id)
        assert caught.value.code == NOT_FOUND


async def test_transient_failure_on_a_read_is_retried(
    compute: Compute, compute_sandbox: Sandbox
) -> None:
    await compute_sandbox.fault(kind="status", status=503, count=2)
    assert await compute.list_regions()
    assert len(await compute_sandbox.requests()) >= 3


async def test_persistent_failure_becomes_api_error(
    compute: Compute, compute_sandbox: Sandbox
) -> None:
    await compute_sandbox.fault(kind="status", status=500, count=10)
    with pytest.raises(ProviderError) as caught:
        await compute.list_regions()
    assert caught.value.code == "API_ERROR"


async def test_failed_create_is_not_repeated(compute: Compute, compute_sandbox: Sandbox) -> None:
    """A 5xx on POST may have created the server: never sent twice (look before creating)."""
    case = compute_sandbox.case
    path = {
        "hetzner": "/v1/servers",
        "linode": "/v4/linode/instances",
        "digitalocean": "/v2/droplets",
    }
    await compute_sandbox.fault(
        kind="status", status=502, count=1, method="POST", path=path[case.name]
    )
    with pytest.raises(ProviderError):
        await compute.create_server(request=_request(compute_sandbox))
    posts = [r for r in await compute_sandbox.requests() if r["method"] == "POST"]
    assert len(posts) == 1
