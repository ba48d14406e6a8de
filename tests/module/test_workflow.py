"""Tidying after interrupted operations: staging, orphaned directories, a half-done update."""

from __future__ import annotations

import os
import uuid

import httpx

from stellwerk.module.service import reconcile_files
from stellwerk.runtime import Runtime
from tests.module.factories import install


async def test_reconcile_cleans_what_no_operation_or_instance_owns(
    client: httpx.AsyncClient, modules_headers: dict[str, str], runtime: Runtime
) -> None:
    _, final = await install(client, modules_headers, "v2_dashboard")
    assert final["status"] == "completed"
    root = runtime.settings.resolved_modules_root
    (kept,) = root.glob("v2_dashboard_*")
    orphan = root / f"v2_dashboard_{uuid.uuid4().hex}"
    (orphan / "www").mkdir(parents=True)
    stale = root / ".staging" / str(uuid.uuid4())
    (stale / "tree").mkdir(parents=True)
    stray = root / ".previous" / f"v2_dashboard_{uuid.uuid4().hex}"
    stray.mkdir(parents=True)
    # An update interrupted between its two renames: the instance's files wait in .previous.
    os.replace(kept, root / ".previous" / kept.name)

    assert await reconcile_files(runtime.database, runtime.settings) == 4

    assert (kept / "module.json").is_file()  # put back
    assert not (root / ".previous" / kept.name).exists()
    assert not orphan.exists()
    assert not stale.exists()
    assert not stray.exists()
    assert await reconcile_files(runtime.database, runtime.settings) == 0
