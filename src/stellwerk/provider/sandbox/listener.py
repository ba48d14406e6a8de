"""Running every sandbox: inside `stellwerk serve` (when no credentials are configured, or with
`STELLWERK_SANDBOX=true`) and alone with `stellwerk sandbox`.

Which sandboxes there are, their app factories, the suffix each official client expects in the
base URL (hcloud `/v1`, linode_api4 `/v4`, Coolify `/api/v1`, none for pydo and inwx-domrobot)
and their port offsets come from the provider registry.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from stellwerk.config import Settings
from stellwerk.kit.ports import ensure_free
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


def _published_path(settings: Settings) -> Path:
    return settings.data_dir / "sandbox" / "urls.json"


def published_urls(settings: Settings) -> dict[str, str]:
    """The sandboxes' URLs a `stellwerk serve` on this data directory published (free ports),
    so commands run beside it find them; empty when none runs."""
    try:
        urls = json.loads(_published_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in urls.items()} if isinstance(urls, dict) else {}


def _publish(settings: Settings, urls: dict[str, str]) -> None:
    path = _published_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(urls))
    temporary.replace(path)


def _unpublish(settings: Settings, urls: dict[str, str]) -> None:
    if published_urls(settings) == urls:  # not another process's since
        _published_path(settings).unlink(missing_ok=True)


def ports(settings: Settings) -> list[int]:
    """The fixed ports the sandboxes take (`STELLWERK_SANDBOX_PORT` + offsets); none when unset."""
    if not settings.sandbox_port:
        return []
    return [
        settings.sandbox_port + entry.sandbox.port_offset
        for entry in registry.with_sandbox()
        if entry.sandbox is not None
    ]


async def start_all(settings: Settings, *, persist: bool = True) -> list[RunningSandbox]:
    """Every sandbox, on `STELLWERK_SANDBOX_PORT` + its offset or a free port; `PortInUse` (and
    none left running) when a fixed port is taken."""
    running: list[RunningSandbox] = []
    state_dir = settings.data_dir / "sandbox" if persist else None
    try:
        for entry in registry.with_sandbox():
            spec = entry.sandbox
            assert spec is not None
            port = settings.sandbox_port + spec.port_offset if settings.sandbox_port else 0
            ensure_free("127.0.0.1", port, "STELLWERK_SANDBOX_PORT")
            app = registry.load(spec.app)(state_dir)
            running.append(
                await start_server(
                    app, name=entry.name, host="127.0.0.1", port=port, suffix=spec.suffix
                )
            )
    except BaseException:
        for sandbox in running:
            await sandbox.stop()
        raise
    return running


@contextlib.asynccontextmanager
async def sandbox_listener(settings: Settings, urls: dict[str, Any]) -> AsyncIterator[None]:
    """The `serve` listener: start the sandboxes when sandbox mode is on."""
    if not settings.sandbox_enabled:
        yield
        return
    running: list[RunningSandbox] = []
    try:
        running = await start_all(settings)
        urls["sandboxes"] = {sandbox.name: sandbox.url for sandbox in running}
        RUNNING_URLS.update(urls["sandboxes"])
        _publish(settings, urls["sandboxes"])
        yield
    finally:
        for sandbox in running:
            RUNNING_URLS.pop(sandbox.name, None)
        _unpublish(settings, urls.get("sandboxes", {}))
        for sandbox in running:
            await sandbox.stop()
