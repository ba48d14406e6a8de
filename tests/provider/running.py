"""The INWX and Coolify sandboxes on ephemeral ports, wired into `stellwerk.provider.connect`
so the app's services and workflows talk to them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from stellwerk.provider import connect
from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.registrar.inwx.sandbox import create_app as inwx_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


@dataclass
class Sandboxes:
    inwx: RunningSandbox
    coolify: RunningSandbox

    @property
    def coolify_state(self) -> dict[str, Any]:
        return self.coolify.server.config.app.sandbox.data  # type: ignore[no-any-return]

    @property
    def inwx_state(self) -> dict[str, Any]:
        return self.inwx.server.config.app.sandbox.data  # type: ignore[no-any-return]

    async def control(self, sandbox: RunningSandbox, action: str, body: Any = None) -> Any:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"http://127.0.0.1:{sandbox.port}/__sandbox__/{action}", json=body
            )
        return response.json() if response.content else None

    async def deployments(self, **switches: Any) -> Any:
        return await self.control(self.coolify, "deployments", switches)


@contextlib.asynccontextmanager
async def provider_sandboxes() -> AsyncIterator[Sandboxes]:
    inwx = await start_server(inwx_app(None), name="inwx")
    coolify = await start_server(coolify_app(None), name="coolify", suffix="/api/v1")
    sandboxes = Sandboxes(inwx, coolify)
    await sandboxes.deployments(queue_seconds=0.2, build_seconds=0.5)
    connect.ENDPOINT_OVERRIDES.update({"inwx": inwx.url, "coolify": coolify.url})
    try:
        yield sandboxes
    finally:
        connect.ENDPOINT_OVERRIDES.pop("inwx", None)
        connect.ENDPOINT_OVERRIDES.pop("coolify", None)
        await coolify.stop()
        await inwx.stop()
