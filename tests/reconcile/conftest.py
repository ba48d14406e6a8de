"""Reconciliation fixtures: the compute sandboxes (shared with the provider tests), reset."""

from __future__ import annotations

import pytest_asyncio

from tests.provider.compute.conftest import Sandbox, compute_sandboxes

__all__ = ["compute_sandboxes"]


@pytest_asyncio.fixture
async def sandboxes(compute_sandboxes: dict[str, Sandbox]) -> dict[str, Sandbox]:
    for sandbox in compute_sandboxes.values():
        await sandbox.reset()
    return compute_sandboxes
