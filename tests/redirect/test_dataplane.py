"""The data plane over real HTTP on loopback: routing, hits, privacy, stop and outage."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from stellwerk.kit.db import Base
from stellwerk.runtime import Runtime
from tests.conftest import PG_HOST, PG_PORT
from tests.factories import bearer, create_token, create_user
from tests.redirect.conftest import CuttableProxy, PlaneFactory, RunningPlane, wait_for
from tests.redirect.factories import create_domain

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]


async def get(
    plane: RunningPlane, host: str, path: str = "/", method: str = "GET"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=plane.url, timeout=5) as http:
        return await http.request(method, path, headers={"Host": host})


async def hit_count(runtime: Runtime) -> int:
    async with runtime.database.engine.connect() as connection:
        return int(
            (await connection.execute(text("SELECT count(*) FROM redirect_hits"))).scalar_one()
        )


async def wait_for_route(plane: RunningPlane, host: str, *, present: bool = True) -> None:
    async def ready() -> bool:
        return (host in plane.plane.table.routes) is present

    await wait_for(ready, timeout=3.0)


class TestRouting:
    async def test_redirect_keeps_path_and_query_and_records_the_hit(
        self, client: httpx.AsyncClient, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        created = await client.post(
            "/api/v1/domains",
            headers=headers,
            json={
                "domain": "old-brand.example",
                "target_url": "https://new-brand.example",
                "redirect_code": 308,
            },
        )
        domain_id = created.json()["domain"]["id"]
        started = time.monotonic()
        await wait_for_route(data_plane, "www.old-brand.example")
        assert time.monotonic() - started < 1.0 + 0.5  # within a second (plus polling slack)

        response = await get(data_plane, "WWW.Old-Brand.example:8080", "/a/b?c=1")
        assert response.status_code == 308
        assert response.headers["location"] == "https://new-brand.example/a/b?c=1"
        apex = await get(data_plane, "old-brand.example", "/")
        assert apex.headers["location"] == "https://new-brand.example/"
        head = await get(data_plane, "old-brand.example", "/x", method="HEAD")
        assert head.status_code == 308
        assert head.headers["location"] == "https://new-brand.example/x"

        async def visible() -> bool:
            hits = (await client.get(f"/api/v1/hits?domain_id={domain_id}", headers=headers)).json()
            return len(hits["hits"]) == 3

        await wait_for(visible, timeout=3.0)  # 2 s required; slack for a loaded machine
        hits = (await client.get(f"/api/v1/hits?domain_id={domain_id}", headers=headers)).json()
        assert {h["path"] for h in hits["hits"]} == {"/a/b?c=1", "/", "/x"}
        # httpx's user agent is a bot's: counted apart from the human hits.
        stats = (await client.get(f"/api/v1/domains/{domain_id}/stats", headers=headers)).json()
        assert (stats["total"], stats["bots"]) == (0, 3)
        assert stats["daily"][-1]["visitors"] == 0
        url = f"/api/v1/domains/{domain_id}/stats?bots=include"
        assert (await client.get(url, headers=headers)).json()["total"] == 3

    async def test_options_of_the_target(self, runtime: Runtime, data_plane: RunningPlane) -> None:
        user = await create_user(runtime)
        await create_domain(
            runtime,
            user,
            domain="fixed.example",
            target_url="https://t.example/landing",
            preserve_path=False,
            redirect_code=302,
            include_www=False,
        )
        await create_domain(
            runtime, user, domain="merge.example", target_url="https://t.example/base/?ref=old"
        )
        await wait_for_route(data_plane, "merge.example")
        fixed = await get(data_plane, "fixed.example", "/a/b?c=1")
        assert fixed.status_code == 302
        assert fixed.headers["location"] == "https://t.example/landing"
        assert (await get(data_plane, "www.fixed.example")).status_code == 404
        merged = await get(data_plane, "merge.example", "/p?q=1")
        assert merged.headers["location"] == "https://t.example/base/p?ref=old&q=1"

    async def test_no_open_redirect_tricks(
        self, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        user = await create_user(runtime)
        await create_domain(runtime, user, domain="safe.example", target_url="https://t.example")
        await wait_for_route(data_plane, "safe.example")
        for path in (
            "//evil.example/x",
            "/\\evil.example",
            "/%0d%0aSet-Cookie:x=1",
            "/@evil.example",
        ):
            response = await get(data_plane, "safe.example", path)
            location = response.headers["location"]
            assert location.startswith("https://t.example/"), location
            assert "\r" not in location
            assert "\n" not in location
            assert httpx.URL(location).host == "t.example"

    async def test_unknown_host_gets_404_and_an_orphan_hit(
        self, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        response = await get(data_plane, "nobody.example", "/probe")
        assert response.status_code == 404
        assert "No redirect is configured" in response.text
        assert len(response.content) < 512
        head = await get(data_plane, "nobody.example", "/probe", method="HEAD")
        assert head.status_code == 404
        assert head.content == b""

        async def orphan_written() -> bool:
            async with runtime.database.engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text("SELECT domain_id, host, path FROM redirect_hits")
                    )
                ).all()
            return len(rows) == 2 and all(r[0] is None and r[1] == "nobody.example" for r in rows)

        await wait_for(orphan_written, timeout=2.0)

    async def test_delete_reaches_the_data_plane_within_a_second(
        self, client: httpx.AsyncClient, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user, domain="gone.example")
        await wait_for_route(data_plane, "gone.example")
        assert (await get(data_plane, "gone.example")).status_code == 301
        await client.delete(f"/api/v1/domains/{record.id}", headers=headers)
        await wait_for_route(data_plane, "gone.example", present=False)
        assert (await get(data_plane, "gone.example")).status_code == 404


async def _all_database_text(runtime: Runtime) -> str:
    """Every row of every table, as text."""
    chunks = []
    async with runtime.database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(text(f"SELECT * FROM {table.name}"))).all()
            chunks.extend(repr(tuple(row)) for row in rows)
    return "\n".join(chunks)


def _files_text(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


class TestPrivacy:
    async def test_no_raw_ip_anywhere_after_a_load_run(
        self,
        runtime: Runtime,
        plane_factory: PlaneFactory,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        visitor = "198.51.100.77"
        caplog.set_level("DEBUG")
        user = await create_user(runtime)
        record = await create_domain(runtime, user, domain="private.example")
        async with plane_factory(trusted_proxies="127.0.0.1/32") as plane:
            await wait_for_route(plane, "private.example")
            async with httpx.AsyncClient(base_url=plane.url, timeout=5) as http:
                for batch in range(10):
                    responses = await asyncio.gather(
                        *(
                            http.get(
                                f"/r{batch}-{i}?from={i}",
                                headers={
                                    "Host": "private.example",
                                    "X-Forwarded-For": f"{visitor}, 127.0.0.1",
                                    "User-Agent": "Mozilla/5.0 (privacy test)",
                                },
                            )
                            for i in range(50)
                        )
                    )
                    assert all(r.status_code == 301 for r in responses)
        assert await hit_count(runtime) == 500
        everything = await _all_database_text(runtime)
        assert visitor not in everything
        assert "198.51.100" not in everything
        assert visitor not in caplog.text
        assert visitor.encode() not in _files_text(plane.settings.data_dir)
        if runtime.database.dialect == "sqlite":
            assert visitor.encode() not in _files_text(runtime.settings.data_dir)
        # The hash is of the forwarded visitor, not of the proxy: one visitor, 500 hits.
        async with runtime.database.engine.connect() as connection:
            hashes = (
                await connection.execute(text("SELECT DISTINCT ip_hash FROM redirect_hits"))
            ).all()
            visitors = (
                await connection.execute(
                    text("SELECT visitors FROM redirect_daily_totals WHERE domain_id = :d"),
                    {"d": record.id},
                )
            ).scalar_one()
        assert len(hashes) == 1
        assert visitors == 1

    async def test_forwarded_for_is_ignored_from_untrusted_peers(
        self, runtime: Runtime, data_plane: RunningPlane
    ) -> None:
        user = await create_user(runtime)
        await create_domain(runtime, user, domain="spoof.example")
        await wait_for_route(data_plane, "spoof.example")
        async with httpx.AsyncClient(base_url=data_plane.url, timeout=5) as http:
            for forwarded in ("203.0.113.1", "203.0.113.2"):
                await http.get("/", headers={"Host": "spoof.example", "X-Forwarded-For": forwarded})

        async def written() -> bool:
            return await hit_count(runtime) == 2

        await wait_for(written)
        async with runtime.database.engine.connect() as connection:
            hashes = (
                await connection.execute(text("SELECT DISTINCT ip_hash FROM redirect_hits"))
            ).all()
        assert len(hashes) == 1  # both are the loopback peer


class TestDurability:
    async def test_graceful_stop_under_load_loses_no_hit(
        self, runtime: Runtime, plane_factory: PlaneFactory
    ) -> None:
        user = await create_user(runtime)
        await create_domain(runtime, user, domain="busy.example")
        answered = 0
        async with plane_factory(redirect_hit_flush_seconds=5.0) as plane:
            await wait_for_route(plane, "busy.example")
            deadline = time.monotonic() + 20.0
            clients = [httpx.AsyncClient(base_url=plane.url, timeout=5) for _ in range(8)]

            async def load(http: httpx.AsyncClient) -> None:
                nonlocal answered
                for _ in range(2000):  # bounded; the server stops long before
                    if time.monotonic() > deadline:
                        return
                    response = await http.get("/x", headers={"Host": "busy.example"})
                    if response.status_code == 301:
                        answered += 1

            workers = [asyncio.create_task(load(http)) for http in clients]

            async def busy() -> bool:
                return answered >= 200

            await wait_for(busy, timeout=15.0)
            # Leaving the block stops the server while the load is still running.
        results = await asyncio.gather(*workers, return_exceptions=True)
        for http in clients:
            await http.aclose()
        assert answered >= 200
        assert any(isinstance(r, httpx.HTTPError) for r in results)  # stopped mid-load
        assert plane.plane.writer.pending == 0
        recorded = await hit_count(runtime)
        # Every answered request is stored; at most the in-flight ones may be stored unanswered.
        assert answered <= recorded <= answered + len(results)

    async def test_database_outage_loses_no_hit(
        self, runtime: Runtime, plane_factory: PlaneFactory
    ) -> None:
        user = await create_user(runtime)
        await create_domain(runtime, user, domain="outage.example")
        if runtime.database.dialect == "postgresql":
            await self._postgres_outage(runtime, plane_factory)
        else:
            await self._sqlite_locked(runtime, plane_factory)

    async def _postgres_outage(self, runtime: Runtime, plane_factory: PlaneFactory) -> None:
        proxy = CuttableProxy(PG_HOST, PG_PORT)
        await proxy.start()
        database_name = runtime.database.engine.url.database
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{database_name}"
        sent = 0
        try:
            async with plane_factory(
                plane_database_url=url, redirect_hit_buffer_max=100, redirect_hit_batch_size=50
            ) as plane:
                await wait_for_route(plane, "outage.example")
                async with httpx.AsyncClient(base_url=plane.url, timeout=5) as http:

                    async def burst(count: int) -> None:
                        nonlocal sent
                        for _ in range(count):
                            response = await http.get("/o", headers={"Host": "outage.example"})
                            assert response.status_code == 301
                            sent += 1

                    await burst(20)
                    proxy.cut()
                    outage_end = time.monotonic() + 10.0
                    while time.monotonic() < outage_end:  # a 10 s outage, requests all along
                        await burst(25)
                        await asyncio.sleep(0.2)
                    assert plane.plane.writer.spilled > 0  # the bounded buffer overflowed to disk
                    proxy.restore()

                    async def caught_up() -> bool:
                        return await hit_count(runtime) == sent

                    await wait_for(caught_up, timeout=15.0, interval=0.2)
        finally:
            await proxy.stop()
        assert await hit_count(runtime) == sent
        assert not list((plane.settings.data_dir / "redirect-spool").glob("hits-*"))

    async def _sqlite_locked(self, runtime: Runtime, plane_factory: PlaneFactory) -> None:
        """SQLite has no server to lose: hold its write lock instead, so every write waits."""
        path = runtime.database.engine.url.database
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 30})
        sent = 0
        async with plane_factory() as plane:
            await wait_for_route(plane, "outage.example")
            async with (
                httpx.AsyncClient(base_url=plane.url, timeout=5) as http,
                engine.connect() as lock,
            ):
                await lock.exec_driver_sql("BEGIN EXCLUSIVE")
                end = time.monotonic() + 10.0  # as long as the PostgreSQL outage
                while time.monotonic() < end:
                    response = await http.get("/o", headers={"Host": "outage.example"})
                    assert response.status_code == 301  # answering never waits for the database
                    sent += 1
                    await asyncio.sleep(0.01)
                await lock.exec_driver_sql("ROLLBACK")
        await engine.dispose()
        assert await hit_count(runtime) == sent
