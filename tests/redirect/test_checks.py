"""Target checks: chains, loops, final status, certificates, and what a failing target causes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stellwerk.kit.netguard import trace_redirects
from stellwerk.kit.time import utc_now
from stellwerk.redirect.checks import checks
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, bearer, create_token, create_user
from tests.loopback import loopback_server
from tests.module.servers import serve_directory
from tests.redirect.factories import create_domain

ALL = ["read:domains", "write:domains"]


def _answers(path: str) -> tuple[int, dict[str, str], bytes]:
    """A small site: /ok, a two-hop chain to /ok, a loop, and a broken page."""
    if path == "/ok":
        return 200, {}, b"ok"
    if path == "/hop1":
        return 301, {"Location": "/hop2"}, b""
    if path == "/hop2":
        return 302, {"Location": "/ok"}, b""
    if path == "/loop-a":
        return 302, {"Location": "/loop-b"}, b""
    if path == "/loop-b":
        return 302, {"Location": "/loop-a"}, b""
    if path == "/far":
        return 302, {"Location": "http://169.254.169.254/latest/meta-data"}, b""
    return 500, {}, b"broken"


@pytest.fixture
def site() -> Iterator[str]:
    with loopback_server(_answers) as url:
        yield url


async def test_private_targets_are_refused_unless_allowed(site: str) -> None:
    refused = await trace_redirects(f"{site}/hop1")
    assert (refused.hops, refused.error) == ([], "127.0.0.1 is a loopback address")


async def test_traces_report_chains_loops_and_refusals(site: str) -> None:
    chain = await trace_redirects(f"{site}/hop1", allow_private=True)
    assert [h.status for h in chain.hops] == [301, 302, 200]
    assert (chain.redirects, chain.loop, chain.error) == (2, False, None)
    loop = await trace_redirects(f"{site}/loop-a", allow_private=True)
    assert loop.loop
    assert loop.error == f"Redirect loop back to {site}/loop-a"
    metadata = await trace_redirects(f"{site}/far", allow_private=True)
    assert metadata.error == "169.254.169.254 is a cloud metadata address"
    bounded = await trace_redirects(f"{site}/hop1", max_hops=1, allow_private=True)
    assert bounded.error == "More than 1 redirects"


async def test_certificates_are_verified_and_their_expiry_reported(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hi")
    with serve_directory(tmp_path / "www", tls_dir=tmp_path) as served:
        untrusted = await trace_redirects(f"{served.url}/", allow_private=True)
        assert untrusted.error is not None
        assert untrusted.error.startswith("TLS certificate not valid")
        trusted = await trace_redirects(f"{served.url}/", ca_pem=served.ca_pem, allow_private=True)
    assert trusted.error is None
    assert trusted.final is not None
    assert trusted.final.status == 200
    assert trusted.cert_expires_at is not None
    left = trusted.cert_expires_at - utc_now().timestamp()
    assert dt.timedelta(hours=23).total_seconds() < left <= dt.timedelta(days=1).total_seconds()


@pytest.fixture
def private_targets(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sites these tests check run on loopback."""
    monkeypatch.setattr(runtime.settings, "redirect_target_check_private", True)


@pytest.mark.usefixtures("private_targets")
class TestDomainChecks:
    async def test_a_target_answering_500_is_flagged_listed_and_audited(
        self, client: httpx.AsyncClient, runtime: Runtime, site: str
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user, target_url=f"{site}/hop1")
        first = await client.post(f"/api/v1/domains/{record.id}/check", headers=headers)
        assert first.status_code == 200, first.text
        domain = first.json()["domain"]
        assert domain["target_status"] == "ok"
        check = domain["target_check"]
        assert (check["chain_length"], check["final_status"], check["loop"]) == (2, 200, False)
        assert check["final_url"] == f"{site}/ok"

        await client.patch(
            f"/api/v1/domains/{record.id}", headers=headers, json={"target_url": f"{site}/down"}
        )
        fresh = (await client.get(f"/api/v1/domains/{record.id}", headers=headers)).json()
        assert fresh["domain"]["target_status"] is None  # the old result was of the old target
        await client.patch(
            f"/api/v1/domains/{record.id}", headers=headers, json={"target_url": f"{site}/hop1"}
        )
        await client.post(f"/api/v1/domains/{record.id}/check", headers=headers)
        # The target breaks: the next check flags it once, and the audit log records it.
        await client.patch(
            f"/api/v1/domains/{record.id}", headers=headers, json={"target_url": f"{site}/down"}
        )
        async with runtime.database.session() as session:
            from stellwerk.models import RedirectDomain

            stored = await session.get(RedirectDomain, record.id)
            assert stored is not None
            stored.target_status = "ok"  # as if it had worked before
        failing = (await client.post(f"/api/v1/domains/{record.id}/check", headers=headers)).json()
        assert failing["domain"]["target_status"] == "failing"
        assert failing["domain"]["target_check"]["final_status"] == 500
        assert failing["domain"]["target_check"]["failing_since"] is not None
        await client.post(f"/api/v1/domains/{record.id}/check", headers=headers)
        listed = (await client.get("/api/v1/domains?target=failing", headers=headers)).json()
        assert [d["id"] for d in listed["domains"]] == [record.id]
        audit = (await client.get("/api/admin/audit", headers=await admin_headers(runtime))).json()
        events = [e for e in audit["items"] if e["action"] == "redirect_domain.target_failing"]
        assert len(events) == 1
        assert events[0]["detail"]["final_status"] == 500

    async def test_the_daily_job_checks_what_is_due(self, runtime: Runtime, site: str) -> None:
        user = await create_user(runtime)
        loop = await create_domain(runtime, user, target_url=f"{site}/loop-a")
        fine = await create_domain(runtime, user, target_url=f"{site}/ok")
        assert await checks.run_due(runtime.database, runtime.settings) == 2
        assert await checks.run_due(runtime.database, runtime.settings) == 0  # a day to go
        async with runtime.database.session() as session:
            from stellwerk.models import RedirectDomain

            loop_row = await session.get(RedirectDomain, loop.id)
            fine_row = await session.get(RedirectDomain, fine.id)
            assert loop_row is not None
            assert fine_row is not None
            assert loop_row.target_status == "failing"
            assert loop_row.target_check is not None
            assert loop_row.target_check["loop"] is True
            assert fine_row.target_status == "ok"
        settings = runtime.settings.model_copy(update={"redirect_target_check_seconds": 0})
        assert await checks.run_due(runtime.database, settings) == 0
