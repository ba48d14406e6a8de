"""Running every sandbox: inside `stellwerk serve` (when no credentials are configured, or with
`STELLWERK_SANDBOX=true`) and alone with `stellwerk sandbox`.

A sandbox registers itself in `SANDBOXES` with a factory building its ASGI app and the suffix its
official client expects in the base URL (hcloud `/v1`, linode_api4 `/v4`, Coolify `/api/v1`,
none for pydo and inwx-domrobot).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from stellwerk.config import Settings
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxDefinition:
    name: str
    # Gets the sandbox's state directory; returns its app.
    factory: Callable[[Path | None], ASGIApp]
    suffix: str
    # Offset from `STELLWERK_SANDBOX_PORT` (INWX 1, Coolify 2, Hetzner 3, Linode 4, DigitalOcean 5).
    port_offset: int


SANDBOXES: dict[str, SandboxDefinition] = {}
# Base URLs of the sandboxes running in this process (filled by `sandbox_listener`), so adapters
# built anywhere in the process (workflow steps included) find them.
RUNNING_URLS: dict[str, str] = {}


def register(definition: SandboxDefinition) -> None:
    SANDBOXES[definition.name] = definition


def _load_definitions() -> None:
    import stellwerk.provider.sandboxes  # noqa: F401 - each sandbox module registers itself


async def start_all(settings: Settings, *, persist: bool = True) -> list[RunningSandbox]:
    _load_definitions()
    running: list[RunningSandbox] = []
    state_dir = settings.data_dir / "sandbox" if persist else None
    for definition in sorted(SANDBOXES.values(), key=lambda d: d.port_offset):
        port = settings.sandbox_port + definition.port_offset if settings.sandbox_port else 0
        app = definition.factory(state_dir)
        running.append(
            await start_server(
                app, name=definition.name, host="127.0.0.1", port=port, suffix=definition.suffix
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
