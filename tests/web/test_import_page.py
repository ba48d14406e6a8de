"""The Import page: admins see the sources with their commands and the imports done so far."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
from sqlalchemy import func, select

from stellwerk.importer import frame
from stellwerk.importer.nexredirect import NexRedirectImporter
from stellwerk.models import Operation, RedirectDomain
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


async def _until_final(client: httpx.AsyncClient, url: str) -> str:
    for _ in range(300):
        fragment = await client.get(f"{url}/status")
        assert fragment.status_code == 200
        if 'data-final="true"' in fragment.text:
            return fragment.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not finish")


async def test_an_admin_runs_a_dry_run_then_applies_it(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    admin = await create_admin(runtime)
    source = build(tmp_path / "nr.db")
    with closing(sqlite3.connect(source)) as db:
        # A user whose password hash Stellwerk cannot take: refused, with the reason.
        db.execute(
            "INSERT INTO users (email, password_hash, role, created_at) "
            "VALUES ('md5@example.com', 'not-a-bcrypt-hash', 'viewer', 0)"
        )
        db.commit()
    csrf = await log_in(client, admin.username)
    page = await client.get("/ui/import")
    assert 'action="/ui/import"' in page.text
    assert 'name="csrf_token"' in page.text

    started = await client.post(
        "/ui/import",
        data={"csrf_token": csrf, "source": "nexredirect", "location": str(source)},
    )
    assert started.status_code == 303, started.text
    run_url = started.headers["location"]
    assert run_url.startswith("/ui/import/runs/")
    report = await _until_final(client, run_url)
    assert "What the import would do" in report
    assert '<td data-label="Entity">domain</td><td data-label="Create">3</td>' in report
    assert "md5@example.com" in report
    assert "the password hash is not bcrypt" in report
    assert f'action="{run_url}/apply"' in report
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(RedirectDomain)) == 0

    refused = await client.post(f"{run_url}/apply", data={"source": "nexredirect"})
    assert refused.status_code == 403  # no CSRF token
    applied = await client.post(f"{run_url}/apply", data={"csrf_token": csrf})
    assert applied.status_code == 303
    applied_url = applied.headers["location"]
    assert applied_url != run_url
    done = await _until_final(client, applied_url)
    assert "What the import did" in done
    assert "Apply</button>" not in done
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(RedirectDomain)) == 3
    page = await client.get("/ui/import")
    assert "domain: 3 created" in page.text
    # Both runs are listed, with links to their pages.
    assert f'href="{run_url}"' in page.text
    assert f'href="{applied_url}"' in page.text


async def test_the_form_says_what_is_wrong(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    admin = await create_admin(runtime)
    csrf = await log_in(client, admin.username)
    relative = await client.post(
        "/ui/import", data={"csrf_token": csrf, "source": "vyra", "location": "workspace"}
    )
    assert relative.status_code == 422
    assert "not an absolute path on the server" in relative.text
    missing = await client.post(
        "/ui/import",
        data={"csrf_token": csrf, "source": "nexredirect", "location": str(tmp_path / "no.db")},
    )
    assert missing.status_code == 422
    assert "no file on the server" in missing.text
    no_csrf = await client.post("/ui/import", data={"source": "vyra", "location": str(tmp_path)})
    assert no_csrf.status_code == 403


async def test_customers_cannot_start_imports(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    user = await create_user(runtime)
    csrf = await log_in(client, user.username)
    response = await client.post(
        "/ui/import",
        data={
            "csrf_token": csrf,
            "source": "nexredirect",
            "location": str(build(tmp_path / "x.db")),
        },
        follow_redirects=False,
    )
    assert response.status_code in (302, 303, 403, 404)
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Operation)) == 0
