"""The TLS `ask` endpoint Caddy consults before getting a certificate."""

from __future__ import annotations

import httpx

from stellwerk.runtime import Runtime
from tests.factories import create_user
from tests.redirect.factories import create_domain


async def test_only_active_domains_may_get_certificates(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await create_user(runtime)
    await create_domain(runtime, user, domain="live.example", status="active")
    await create_domain(
        runtime, user, domain="apex-only.example", status="active", include_www=False
    )
    await create_domain(runtime, user, domain="waiting.example")
    await create_domain(runtime, user, domain="moved.example", status="dns_error")

    async def ask(name: str) -> int:
        return (await client.get("/api/redirect/tls-ask", params={"domain": name})).status_code

    assert await ask("live.example") == 200
    assert await ask("WWW.Live.Example") == 200
    assert await ask("apex-only.example") == 200
    assert await ask("www.apex-only.example") == 404
    assert await ask("waiting.example") == 404
    assert await ask("moved.example") == 404
    assert await ask("unknown.example") == 404
    assert await ask("127.0.0.1") == 404
    assert await ask("") == 404
