"""Work bound to a host runs only on a worker of that host."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from stellwerk.audit.actor import Actor
from stellwerk.exceptions import Conflict
from stellwerk.models import ModuleInstance, Operation
from stellwerk.module.service import common_host
from stellwerk.operation import engine, probe
from stellwerk.operation.service import operation as operation_service
from stellwerk.runtime import Runtime


async def _start(runtime: Runtime, host: str) -> uuid.UUID:
    async with runtime.database.session() as session:
        operation, _ = await operation_service.start(
            session,
            Actor.system(),
            kind=probe.KIND,
            input={"steps": 1, "seconds": 0},
            host=host,
        )
        return operation.id


async def _status(runtime: Runtime, operation_id: uuid.UUID) -> Operation:
    async with runtime.database.session() as session:
        operation = await session.get(Operation, operation_id)
        assert operation is not None
        return operation


async def test_host_bound_work_runs_on_its_host_only(runtime: Runtime) -> None:
    here = await _start(runtime, engine.this_host())
    elsewhere = await _start(runtime, "another-host.invalid")
    for _ in range(300):
        if (await _status(runtime, here)).status == "completed":
            break
        await asyncio.sleep(0.1)
    done = await _status(runtime, here)
    assert done.status == "completed"
    assert done.queue == engine.host_queue(engine.this_host())
    waiting = await _status(runtime, elsewhere)
    assert waiting.status == "queued"  # no worker of that host: it waits for one
    assert waiting.queue == "host:another-host.invalid"


def _instance(host: str | None, runtime: str = "process") -> ModuleInstance:
    return ModuleInstance(
        id=uuid.uuid4().hex,
        module_name="m",
        version="1.0.0",
        runtime=runtime,
        unit_name="u",
        host=host,
    )


def test_work_on_several_instances_needs_one_host() -> None:
    assert common_host([_instance("a"), _instance("a")]) == "a"
    assert common_host([_instance("a"), _instance(None)]) == "a"  # recorded before hosts were
    assert common_host([_instance("a", runtime="swarm")]) is None  # swarm: any worker
    with pytest.raises(Conflict):
        common_host([_instance("a"), _instance("b")])
