"""A module that cannot be installed is announced (`module.install_failed`)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from stellwerk.models import NotificationEvent
from stellwerk.runtime import Runtime
from tests.module.factories import CRASHER, RepositoryDir, install, manifest


async def test_a_failed_install_is_announced(
    client: httpx.AsyncClient,
    modules_headers: dict[str, str],
    test_repository: RepositoryDir,
    runtime: Runtime,
) -> None:
    test_repository.add_module(manifest("crashy", "1.0.0", command=CRASHER))
    _, final = await install(client, modules_headers, "crashy")
    assert final["status"] == "failed", final
    async with runtime.database.session() as session:
        rows = (await session.scalars(select(NotificationEvent))).all()
    events = {row.event: row for row in rows}
    assert "operation.failed" in events
    failed = events["module.install_failed"]
    assert failed.data["module_name"] == "crashy"
    assert failed.data["kind"] == "module.install"
    assert failed.data["operation_id"] == final["operation_id"]
