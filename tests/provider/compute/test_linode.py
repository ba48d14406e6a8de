"""Linode specifics the strict sandbox holds the adapter to: tag and label rules, user data,
and a reboot that is only done once Linode's reboot job has run."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from stellwerk.provider.action import constant_backoff
from stellwerk.provider.compute.base import Compute, CreateServer
from stellwerk.provider.error import VALIDATION_ERROR, ProviderError
from tests.provider.compute.conftest import TOKEN, Sandbox, make_compute


@pytest_asyncio.fixture
async def linode(compute_sandboxes: dict[str, Sandbox]) -> AsyncIterator[tuple[Compute, Sandbox]]:
    sandbox = compute_sandboxes["linode"]
    await sandbox.reset()
    adapter = make_compute(sandbox)
    yield adapter, sandbox
    await adapter.aclose()


def _request(**changes: object) -> CreateServer:
    values: dict[str, object] = {
        "name": f"web-{uuid.uuid4().hex[:8]}",
        "plan": "g6-nanode-1",
        "region": "us-east",
        "image": "linode/ubuntu22.04",
        "marker": str(uuid.uuid4()),
        "root_password": "Sandbox-Password-123!",
    }
    values.update(changes)
    return CreateServer(**values)  # type: ignore[arg-type]


async def _instances(sandbox: Sandbox) -> list[dict[str, object]]:
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        return list((await http.get("/linode/instances")).json()["data"])


async def test_a_server_for_an_instance_id_is_created_and_found(
    linode: tuple[Compute, Sandbox],
) -> None:
    """The marker of a real instance (a UUID) fits Linode's 3-50 character tags."""
    compute, sandbox = linode
    marker = str(uuid.uuid4())
    created = await compute.create_server(request=_request(marker=marker, tags=["web"]))
    assert created.server.marker == marker
    assert created.server.tags == ("web",)
    found = await compute.find_server(marker=marker)
    assert found is not None
    assert found.id == created.server.id
    (instance,) = await _instances(sandbox)
    assert all(3 <= len(str(tag)) <= 50 for tag in instance["tags"])


async def test_a_tag_longer_than_50_characters_is_refused_in_linodes_words(
    linode: tuple[Compute, Sandbox],
) -> None:
    compute, _ = linode
    with pytest.raises(ProviderError) as caught:
        await compute.create_server(request=_request(tags=["x" * 51]))
    assert caught.value.code == VALIDATION_ERROR
    assert caught.value.field == "tags[0]"
    assert "must be between 3 and 50 characters" in caught.value.message


async def test_user_data_reaches_linodes_metadata_service(
    linode: tuple[Compute, Sandbox],
) -> None:
    compute, sandbox = linode
    script = "#cloud-config\npackages: [nginx]\n"
    await compute.create_server(request=_request(user_data=script))
    (instance,) = await _instances(sandbox)
    assert instance["has_user_data"] is True
    state = sandbox.running.server.config.app.sandbox.state.data
    (stored,) = state["instances"].values()
    assert base64.b64decode(stored["user_data"]).decode() == script


async def test_a_reboot_is_done_only_after_linode_rebooted(
    linode: tuple[Compute, Sandbox],
) -> None:
    """Linode queues the reboot: the instance still says `running` before it says `rebooting`.
    The action waits for Linode's reboot event instead of the first `running` it sees."""
    compute, sandbox = linode
    created = await compute.create_server(request=_request())
    assert created.action is not None
    await created.action.wait_until_finished(backoff=constant_backoff(0.05))
    action = await compute.power(server_id=created.server.id, action="reboot")
    assert action is not None
    await action.wait_until_finished(max_retries=400, backoff=constant_backoff(0.02))
    server = await compute.get_server(server_id=created.server.id)
    assert server.status == "running"
    events = sandbox.running.server.config.app.sandbox.state.data["events"]
    reboots = [e for e in events if e["action"] == "linode_reboot"]
    assert reboots
    assert reboots[-1]["started"] + reboots[-1]["duration"] <= _now()


def _now() -> float:
    import time

    return time.time()


async def test_a_label_with_two_underscores_in_a_row_is_refused(
    linode: tuple[Compute, Sandbox],
) -> None:
    compute, _ = linode
    with pytest.raises(ProviderError) as caught:
        await compute.create_server(request=_request(name="bad__label"))
    assert caught.value.code == VALIDATION_ERROR
    assert caught.value.field == "label"
