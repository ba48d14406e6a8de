"""Running every sandbox: inside `stellwerk serve` (when no credentials are configured, or with
`STELLWERK_SANDBOX=true`) and alone with `stellwerk sandbox`.

Which sandboxes there are, their app factories, the suffix each official client expects in the
base URL (hcloud `/v1`, linode_api4 `/v4`, Coolify `/api/v1`, none for pydo and inwx-domrobot)
and their port offsets come from the provider registry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from stellwerk.config import Settings
from stellwerk.provider import registry
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server

log = logging.getLogger(__name__)

# Base URLs of the sandboxes running in this process (filled by `sandbox_listener`), so adapters
# built anywhere in the process (workflow steps included) find them.
RUNNING_URLS: dict[str, str] = {}


def urls_at(settings: Settings) -> dict[str, str]:
    """Where the sandboxes of a `stellwerk sandbox` on `STELLWERK_SANDBOX_PORT` answer."""
    return {
        entry.name: f"http://127.0.0.1:{settings.sandbox_port + entry.sandbox.port_offset}"
        f"{entry.sandbox.suffix}"
        for entry in registry.with_sandbox()
        if entry.sandbox is not None
    }


async def start_all(settings: Settings, *, persist: bool = True) -> list[RunningSandbox]:
    running: list[RunningSandbox] = []
    state_dir = settings.data_dir / "sandbox" if persist else None
    for entry in registry.with_sandbox():
        spec = entry.sandbox
        assert spec is not None
        port = settings.sandbox_port + spec.port_offset if settings.sandbox_port else 0
        app = registry.load(spec.app)(state_dir)
        running.append(
            await start_server(
                app, name=entry.name, host="127.0.0.1", port=port, suffix=spec.suffix
            )
        )
    return running


@contextlib.asynccontextmanager
async def sandbox_listener(settings: Settings, urls: dict[str, Any]) -> AsyncIterator[None]:
    """The `serve` listener: start the sandboxes when sandbox mode is on."""
    if not settings.sandbox_enabled:
        yield
        return
    running = await start_all(settings)
    urls["sandboxes"] = {sandbox.name: sandbox.url for sandbox in running}
    RUNNING_URLS.update(urls["sandboxes"])
    try:
        yield
    finally:
        for sandbox in running:
            RUNNING_URLS.pop(sandbox.name, None)
        for sandbox in running:
            await sandbox.stop()
