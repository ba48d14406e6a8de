"""The Import page: admins see the sources with their commands and the imports done so far."""

from __future__ import annotations

from pathlib import Path

import httpx

from stellwerk.importer import frame
from stellwerk.importer.nexredirect import NexRedirectImporter
from stellwerk.runtime import Runtime
from tests.factories import create_admin, create_user
from tests.importer.nexredirect_source import build
from tests.web.test_router import log_in


async def test_admins_see_sources_and_past_imports(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    admin = await create_admin(runtime)
    await frame.run(runtime.database, NexRedirectImporter(build(tmp_path / "nr.db")), dry_run=False)
    await log_in(client, admin.username)

    page = await client.get("/ui/import")

    assert page.status_code == 200
    assert "stellwerk import nexredirect --sqlite" in page.text
    assert "stellwerk import v2 --database-url" in page.text
    assert "domain: 3 created" in page.text
    assert 'href="/ui/import"' in page.text


async def test_others_do_not(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await create_user(runtime)
    await log_in(client, user.username)
    page = await client.get("/ui/import", follow_redirects=False)
    assert page.status_code in (302, 303, 403, 404)
