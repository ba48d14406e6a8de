"""A create whose answer never comes (the provider made the server, then hung and dropped the
connection): the adapter reports a transient failure, and the server is found by its marker,
which is how the server workflow avoids creating it twice (see tests/server/test_faults.py)."""

from __future__ import annotations

import pytest

from stellwerk.provider.compute.base import CreateServer
from stellwerk.provider.error import ProviderError
from tests.provider.compute.conftest import Sandbox, make_compute

CREATE_PATHS = {
    "hetzner": "/v1/servers",
    "linode": "/v4/linode/instances",
    "digitalocean": "/v2/droplets",
}


async def test_create_timing_out_after_the_write_is_transient_and_findable(
    compute_sandbox: Sandbox,
) -> None:
    case = compute_sandbox.case
    await compute_sandbox.fault(
        kind="timeout",
        delay=1.0,
        count=1,
        method="POST",
        path=CREATE_PATHS[case.name],
        after_write=True,
    )
    compute = make_compute(compute_sandbox)
    try:
        request = CreateServer(
            name="lost-answer",
            plan=case.plan,
            region=case.region,
            image=case.image,
            marker="0f0e0d0c-0000-4000-8000-000000000001",
            root_password="a-long-root-password-1",
        )
        with pytest.raises(ProviderError) as lost:
            await compute.create_server(request=request)
        assert lost.value.transient, lost.value
        found = await compute.find_server(marker=request.marker)
        assert found is not None
        assert found.name == "lost-answer"
        assert [s.id for s in await compute.list_servers()] == [found.id]
    finally:
        await compute.aclose()
