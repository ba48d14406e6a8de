"""Something on every page: what the browser walk creates through the API before it looks."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field

import httpx

CUSTOMER = ("carol", "carol-password-1")
STAFF = ("sam", "sam-password-123")


@dataclass
class Seeded:
    """The ids of what was created, for the detail pages."""

    pages: list[str] = field(default_factory=list)


async def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    body: dict[str, object] = response.json()
    return body


async def login(api: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    answer = await _ok(
        await api.post("/api/auth/login", json={"username": username, "password": password})
    )
    return {"Authorization": f"Bearer {answer['access_token']}"}


async def _visit(redirect_url: str, host: str, times: int) -> None:
    """Requests to the redirect data plane, as visitors would send them (a new domain is served
    within a few seconds)."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=redirect_url, timeout=5) as visitor:
        sent = 0
        while sent < times and time.monotonic() < deadline:
            answer = await visitor.get(f"/page-{sent}", headers={"Host": host})
            if answer.status_code == 301:
                sent += 1
            else:
                await asyncio.sleep(0.2)
        assert sent == times, f"{host} was not redirected"


async def seed(base_url: str, admin: tuple[str, str], *, redirect_url: str | None = None) -> Seeded:
    """A provider with a plan and a server, a customer with a license about to expire, a
    release, a resource, a lead, a DNS zone, a registered domain, a redirect (with a few hits
    when `redirect_url` names the data plane), a project, an operation, and a customer and a
    staff member with their own server."""
    seeded = Seeded()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        headers = await login(api, *admin)
        provider = await _ok(
            await api.post(
                "/api/admin/providers",
                json={"name": "Hetzner sandbox", "type": "hetzner", "api_key": "sandbox-walk"},
                headers=headers,
            )
        )
        provider_id = provider["provider"]["id"]  # type: ignore[index]
        plan = await _ok(
            await api.post(
                "/api/admin/plans",
                json={
                    "provider_id": provider_id,
                    "provider_plan_id": "cx23",
                    "base_price": "4.50",
                    "markup_price": "1.50",
                },
                headers=headers,
            )
        )
        plan_id = plan["plan"]["id"]  # type: ignore[index]
        server = await _ok(
            await api.post(
                "/api/vps",
                json={
                    "plan_id": plan_id,
                    "label": "web-1",
                    "region": "fsn1",
                    "image": "ubuntu-24.04",
                },
                headers=headers,
            )
        )
        seeded.pages.append(f"/ui/servers/{server['instance']['id']}")  # type: ignore[index]
        customer = await _ok(
            await api.post(
                "/api/customers",
                json={"name": "Acme GmbH", "email": "it@acme.example"},
                headers=headers,
            )
        )
        seeded.pages.append(f"/ui/customers/{customer['id']}")
        soon = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=12)).isoformat()
        license = await _ok(
            await api.post(
                "/api/licenses",
                json={
                    "customer_id": customer["id"],
                    "license_type": "subscription",
                    "valid_until": soon,
                    "max_activations": 3,
                },
                headers=headers,
            )
        )
        seeded.pages.append(f"/ui/licenses/{license['id']}")
        await _ok(
            await api.post(
                "/api/releases",
                json={"version": "2.4.0", "download_url": "https://example.com/app-2.4.0.zip"},
                headers=headers,
            )
        )
        await _ok(
            await api.post(
                "/api/resources",
                json={"type": "domain", "identifier": "kiosk.acme.example"},
                headers=headers,
            )
        )
        lead = await _ok(
            await api.post(
                "/leads/api/institutions",
                json={"name": "Tech University", "type": "university"},
                headers=headers,
            )
        )
        seeded.pages.append(f"/leads/edit/{lead['id']}")
        zone = await _ok(
            await api.post("/api/dns/zones", json={"name": "acme-shop.de"}, headers=headers)
        )
        seeded.pages.append(f"/ui/dns/{zone['name']}")
        domain = await _ok(
            await api.post(
                "/api/registrar/domains", json={"domain": "acme-store.de"}, headers=headers
            )
        )
        seeded.pages.append(f"/ui/domains/{domain['name']}")
        token = await _ok(
            await api.post(
                "/api/tokens",
                json={"name": "walk", "scopes": ["read:domains", "write:domains"]},
                headers=headers,
            )
        )
        redirect = await _ok(
            await api.post(
                "/api/v1/domains",
                json={"domain": "old-acme.de", "target_url": "https://www.acme.example"},
                headers={"Authorization": f"Bearer {token['token']}"},
            )
        )
        seeded.pages.append(f"/ui/redirects/{redirect['domain']['id']}")  # type: ignore[index]
        if redirect_url is not None:
            await _visit(redirect_url, "old-acme.de", 12)
        project = await _ok(
            await api.post(
                "/api/projects",
                json={"name": "acmeshop", "domain": "acme-shop.de", "plugins": ["core"]},
                headers=headers,
            )
        )
        seeded.pages.append(f"/ui/projects/{project['id']}")
        operation = await _ok(
            await api.post(
                "/api/operations/probe", json={"steps": 2, "seconds": 0.2}, headers=headers
            )
        )
        seeded.pages.append(f"/ui/operations/{operation['id']}")
        for (username, password), role in ((CUSTOMER, "customer"), (STAFF, "staff")):
            await _ok(
                await api.post(
                    "/api/admin/users",
                    json={"username": username, "password": password, "role": role},
                    headers=headers,
                )
            )
        carol = await login(api, *CUSTOMER)
        await _ok(
            await api.post(
                "/api/vps",
                json={
                    "plan_id": plan_id,
                    "label": "carol-web",
                    "region": "fsn1",
                    "image": "ubuntu-24.04",
                },
                headers=carol,
            )
        )
    return seeded
