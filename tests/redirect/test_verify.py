"""DNS verification and the periodic re-check, against a real PowerDNS on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stellwerk.redirect import service
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_token, create_user, jwt_for
from tests.redirect.conftest import PowerDns, RunningPlane, wait_for
from tests.redirect.factories import unique_domain

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]
PUBLIC_IP = "127.0.0.1"


@pytest.fixture
def dns_settings(runtime: Runtime, powerdns: PowerDns) -> Iterator[None]:
    settings = runtime.settings
    before = (settings.public_ipv4, settings.public_ipv6, settings.dns_resolvers)
    settings.public_ipv4 = PUBLIC_IP
    settings.public_ipv6 = None
    settings.dns_resolvers = powerdns.resolver
    yield
    settings.public_ipv4, settings.public_ipv6, settings.dns_resolvers = before


async def _create(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> int:
    response = await client.post(
        "/api/v1/domains",
        headers=headers,
        json={"domain": name, "target_url": "https://target.example"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["domain"]["id"])


class TestVerify:
    async def test_pending_until_the_records_point_here(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        powerdns: PowerDns,
        dns_settings: None,
        data_plane: RunningPlane,
    ) -> None:
        user = await create_user(runtime)
        token = bearer(await create_token(runtime, user, ALL))
        login = bearer(jwt_for(runtime, user))
        name = unique_domain("verify")
        powerdns.create_zone(name)
        domain_id = await _create(client, token, name)

        response = await client.post(f"/api/domains/{domain_id}/verify", headers=login)
        assert response.status_code == 200
        body = response.json()
        assert body["verified"] is False
        assert body["domain"]["status"] == "pending"
        assert "no A record" in body["message"]

        powerdns.set_record(name, "A", [PUBLIC_IP])
        powerdns.set_record(f"www.{name}", "A", ["192.0.2.1"])
        body = (await client.post(f"/api/domains/{domain_id}/verify", headers=login)).json()
        assert body["verified"] is False
        www = next(c for c in body["checks"] if c["name"] == f"www.{name}")
        assert www == {
            "type": "A",
            "name": f"www.{name}",
            "expected": PUBLIC_IP,
            "found": ["192.0.2.1"],
            "ok": False,
        }

        powerdns.set_record(f"www.{name}", "A", [PUBLIC_IP])
        body = (await client.post(f"/api/domains/{domain_id}/verify", headers=login)).json()
        assert body["verified"] is True
        assert body["domain"]["status"] == "active"
        assert body["domain"]["verified_at"] is not None

        # The acceptance path: verified domain → redirect with path and query → visible hit.
        async def routed() -> bool:
            return f"www.{name}" in data_plane.plane.table.routes

        await wait_for(routed, timeout=1.5)
        async with httpx.AsyncClient(base_url=data_plane.url) as http:
            redirect = await http.get("/a/b?c=1", headers={"Host": f"www.{name}"})
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "https://target.example/a/b?c=1"

        async def in_stats() -> bool:
            # httpx's user agent is a bot's: counted with `bots=include`.
            url = f"/api/v1/domains/{domain_id}/stats?bots=include"
            stats = await client.get(url, headers=token)
            hits = await client.get(f"/api/v1/hits?domain_id={domain_id}", headers=token)
            return stats.json()["total"] == 1 and len(hits.json()["hits"]) == 1

        await wait_for(in_stats, timeout=3.0)  # 2 s required; slack for a loaded machine

    async def test_verify_needs_a_login_not_a_token(
        self, client: httpx.AsyncClient, runtime: Runtime, dns_settings: None
    ) -> None:
        user = await create_user(runtime)
        token = bearer(await create_token(runtime, user, ALL))
        domain_id = await _create(client, token, unique_domain())
        response = await client.post(f"/api/domains/{domain_id}/verify", headers=token)
        assert response.status_code == 403
        assert response.json()["code"] == "login_required"
        assert (await client.post(f"/api/domains/{domain_id}/verify")).status_code == 401
        stranger = bearer(jwt_for(runtime, await create_user(runtime)))
        response = await client.post(f"/api/domains/{domain_id}/verify", headers=stranger)
        assert response.status_code == 404

    async def test_without_a_public_address_verification_explains(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        token = bearer(await create_token(runtime, user, ALL))
        created = await client.post(
            "/api/v1/domains",
            headers=token,
            json={"domain": unique_domain(), "target_url": "https://t.example"},
        )
        assert created.json()["dns_records"] == []
        domain_id = created.json()["domain"]["id"]
        response = await client.post(
            f"/api/domains/{domain_id}/verify", headers=bearer(jwt_for(runtime, user))
        )
        assert response.status_code == 409
        assert response.json()["code"] == "public_ip_not_configured"
        assert "STELLWERK_PUBLIC_IPV4" in response.json()["detail"]


class TestRecheck:
    async def test_dns_moving_away_and_back(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        powerdns: PowerDns,
        dns_settings: None,
    ) -> None:
        user = await create_user(runtime)
        token = bearer(await create_token(runtime, user, ALL))
        login = bearer(jwt_for(runtime, user))
        name = unique_domain("moves")
        powerdns.create_zone(name)
        powerdns.set_record(name, "A", [PUBLIC_IP])
        powerdns.set_record(f"www.{name}", "A", [PUBLIC_IP])
        domain_id = await _create(client, token, name)
        assert (await client.post(f"/api/domains/{domain_id}/verify", headers=login)).json()[
            "verified"
        ]

        powerdns.set_record(name, "A", ["192.0.2.99"])
        assert await service.domain.recheck(runtime.database, runtime.settings) == 1
        domain = (await client.get(f"/api/v1/domains/{domain_id}", headers=token)).json()["domain"]
        assert domain["status"] == "dns_error"
        assert "192.0.2.99" in domain["dns_message"]

        powerdns.set_record(name, "A", [PUBLIC_IP])
        assert await service.domain.recheck(runtime.database, runtime.settings) == 1
        domain = (await client.get(f"/api/v1/domains/{domain_id}", headers=token)).json()["domain"]
        assert domain["status"] == "active"
        assert domain["dns_message"] is None
        assert await service.domain.recheck(runtime.database, runtime.settings) == 0
