"""Module archives and file repositories built on the fly, and helpers to follow operations."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from stellwerk.models import ModuleRepository
from stellwerk.module.repository import ModuleRepositoryRepository
from stellwerk.runtime import Runtime

SLEEPER = ["{python}", "-c", "import time; time.sleep(600)"]
CRASHER = ["{python}", "-c", "raise SystemExit(3)"]


def manifest(
    name: str,
    version: str,
    *,
    command: Sequence[str] | None = SLEEPER,
    image: str | None = None,
    container_command: Sequence[str] | None = None,
    multi_instance: bool = True,
    grace_seconds: float = 0.3,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "display_name": name.replace("_", " ").title(),
        "description": f"{name} for tests",
        "category": extra.pop("category", "testing"),
        "multi_instance": multi_instance,
        "run": {
            "command": list(command) if command else None,
            "image": image,
            "container_command": list(container_command) if container_command else None,
        },
        "health": {"grace_seconds": grace_seconds},
        **extra,
    }


def archive_bytes(
    module_manifest: dict[str, Any] | None,
    files: dict[str, bytes] | None = None,
    extra: Sequence[tuple[tarfile.TarInfo, bytes | None]] = (),
) -> bytes:
    """A gzip tar with module.json, `files`, and any hand-made (possibly hostile) members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entries = dict(files or {})
        if module_manifest is not None:
            entries = {"module.json": json.dumps(module_manifest).encode(), **entries}
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
        for info, content in extra:
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def member(
    name: str, *, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x"
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


class RepositoryDir:
    """A file repository on disk: index.json plus one archive per version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.modules: dict[str, dict[str, Any]] = {}

    def add(
        self,
        name: str,
        version: str,
        archive: bytes,
        *,
        multi_instance: bool = True,
        category: str = "testing",
        sha256: str | None = None,
    ) -> None:
        filename = f"{name}-{version}.tar.gz"
        (self.root / filename).write_bytes(archive)
        entry = self.modules.setdefault(
            name,
            {
                "name": name,
                "display_name": name.replace("_", " ").title(),
                "description": f"{name} for tests",
                "category": category,
                "multi_instance": multi_instance,
                "versions": [],
            },
        )
        entry["versions"].append(
            {
                "version": version,
                "archive": filename,
                "sha256": sha256 or hashlib.sha256(archive).hexdigest(),
            }
        )
        self.write_index()

    def add_module(self, module_manifest: dict[str, Any], **options: Any) -> None:
        self.add(
            module_manifest["name"],
            module_manifest["version"],
            archive_bytes(module_manifest, {"README": b"test module\n"}),
            multi_instance=module_manifest["multi_instance"],
            category=module_manifest.get("category") or "testing",
            **options,
        )

    def write_index(self) -> None:
        index = {"format": 1, "name": "Test repository", "modules": list(self.modules.values())}
        (self.root / "index.json").write_text(json.dumps(index))

    def index_bytes(self) -> bytes:
        return (self.root / "index.json").read_bytes()


async def register_repository(
    runtime: Runtime,
    repository_id: str,
    url: str,
    *,
    kind: str = "file",
    priority: int = 10,
    ca_pem: str | None = None,
    allow_http: bool = False,
    allow_private: bool = False,
) -> None:
    """A repository written straight to the database (past the API's checks)."""
    async with runtime.database.session() as session:
        added = await ModuleRepositoryRepository(session).add(
            ModuleRepository(
                id=repository_id,
                name=f"Test {repository_id}",
                type=kind,
                url=url,
                enabled=True,
                priority=priority,
                allow_http=allow_http,
                allow_private=allow_private,
                ca_pem=ca_pem,
                builtin=False,
            )
        )
    assert added, repository_id


async def wait_operation(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    operation_id: str,
    *,
    timeout: float = 120.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/modules/status/{operation_id}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"operation {operation_id} did not finish: {body}")


async def install(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    module_name: str,
    *,
    timeout: float = 120.0,
    **body: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start an install, wait for it; returns (the 202 body, the final status)."""
    response = await client.post(
        "/modules/install-instance", json={"module_name": module_name, **body}, headers=headers
    )
    assert response.status_code == 202, response.text
    started = response.json()
    return started, await wait_operation(client, headers, started["operation_id"], timeout=timeout)
