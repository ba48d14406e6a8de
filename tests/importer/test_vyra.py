"""`stellwerk import vyra` from a module manager's workspace built here: instances keep their
ids and files, the primary instance and the repositories arrive, and nothing is done twice."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from stellwerk.module.service import module_repository
from stellwerk.runtime import Runtime
from tests.factories import admin_headers
from tests.importer.conftest import run

OLD = "aef036f639d3486a985b65ee25df8fec"
NEW = "0123456789abcdef0123456789abcdef"
USERS = "562eef121977473b562eef121977473b"


def _instance(
    root: Path, name: str, ident: str, version: str, *, slim: bool = False, age: int = 0
) -> Path:
    directory = root / "modules" / f"{name}_{ident}"
    (directory / ".module").mkdir(parents=True)
    (directory / ".module" / "module_data.yaml").write_text(
        f'name: "{name}"\ndisplay_name: "{name.title()}"\nversion: "{version}"\n'
        f'author: "VYRA"\nuuid: "{ident}"\nalias: ""\n'
    )
    (directory / ".env").write_text(f"VYRA_SLIM={'true' if slim else 'false'}\n")
    (directory / "frontend").mkdir()
    (directory / "frontend" / "index.html").write_text(f"<h1>{name}</h1>")
    os.symlink("/etc/hostname", directory / "outside-link")
    stamp = 1_700_000_000 + age
    os.utime(directory, (stamp, stamp))
    return directory


def _workspace(root: Path) -> Path:
    _instance(root, "v2_dashboard", OLD, "1.0.0", age=0)
    _instance(root, "v2_dashboard", NEW, "1.1.0", age=100)
    _instance(root, "v2_usermanager", USERS, "0.3.0", slim=True)
    (root / "modules" / "not-an-instance").mkdir()
    wrong = root / "modules" / f"v2_other_{'f' * 32}" / ".module"
    wrong.mkdir(parents=True)
    (wrong / "module_data.yaml").write_text(
        f'name: "v2_other"\nversion: "1.0.0"\nuuid: "{"e" * 32}"\n'
    )
    team = root / "team-repository"
    team.mkdir()
    (root / "config").mkdir()
    (root / "config" / "repository_config.json").write_text(
        json.dumps(
            {
                "repositories": [
                    {
                        "name": "local-module-repository",
                        "url": "file:///local_module_repository",
                        "priority": 0,
                        "enabled": True,
                        "type": "file-based",
                    },
                    {
                        "name": "team",
                        "url": f"file://{team}",
                        "priority": 5,
                        "enabled": True,
                        "type": "file-based",
                        "description": "Our modules",
                    },
                    {
                        "name": "vyra-official",
                        "url": "https://localhost/index.json",
                        "priority": 10,
                        "enabled": True,
                        "type": "https",
                        "api_key": "${VYRA_API_KEY}",
                    },
                    {"name": "old", "url": "ftp://example.org", "type": "ftp"},
                ],
                "cache": {"enabled": True},
            }
        )
    )
    return root


def _entries(plan: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {f"{e['entity']}:{e['key']}": (e["action"], e["reason"]) for e in plan["entries"]}


async def test_vyra_import(client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "workspace")
    async with runtime.database.session() as session:  # as on Stellwerk's first start
        await module_repository.ensure_builtin(session)
    modules_root = runtime.settings.resolved_modules_root

    dry = await run(runtime, "import", "vyra", "--workspace", str(workspace))
    entries = _entries(dry)
    assert entries[f"instance:{OLD}"] == (
        "create",
        "v2_dashboard 1.0.0 (primary: the module's oldest instance)",
    )
    assert entries[f"instance:{NEW}"] == ("create", "v2_dashboard 1.1.0")
    assert entries["instance:not-an-instance"][0] == "refuse"
    assert entries[f"instance:v2_other_{'f' * 32}"] == (
        "refuse",
        f".module/module_data.yaml has the uuid '{'e' * 32}'",
    )
    assert entries["repository:local-module-repository"] == ("skip", "already here")
    assert entries["repository:team"] == ("create", "a file repository")
    assert entries["repository:vyra-official"][0] == "refuse"
    assert entries["repository:old"] == ("refuse", "Stellwerk has no ftp repositories")
    assert dry["counts"] == {"create": 4, "update": 0, "skip": 1, "refuse": 4}
    admin = await admin_headers(runtime)
    listed = await client.get("/modules/instances", headers=admin)
    assert listed.json()["total"] == 0

    # The module manager's own answer names the newer instance as the primary one.
    answer = tmp_path / "instances.json"
    answer.write_text(
        json.dumps(
            {
                "modules": {
                    "v2_dashboard": [
                        {"instance_id": OLD, "is_primary": False, "status": "stopped"},
                        {
                            "instance_id": NEW,
                            "is_primary": True,
                            "status": "running",
                            "permissions": {"multi_instance": True},
                        },
                    ]
                }
            }
        )
    )
    args = ("import", "vyra", "--workspace", str(workspace), "--instances", str(answer))
    applied = await run(runtime, *args, "--apply")
    assert applied["counts"] == dry["counts"]
    assert _entries(applied)[f"instance:{NEW}"][1] == (
        "v2_dashboard 1.1.0 (the module manager's primary instance)"
    )
    again = await run(runtime, *args, "--apply")
    assert again["counts"] == {"create": 0, "update": 0, "skip": 5, "refuse": 4}

    listed = (await client.get("/modules/instances", headers=admin)).json()
    found = {i["instance_id"]: i for group in listed["modules"] for i in group["instances"]}
    assert set(found) == {OLD, NEW, USERS}
    assert (found[NEW]["is_primary"], found[OLD]["is_primary"]) == (True, False)
    assert found[USERS]["is_primary"] is True
    assert found[OLD]["version"] == "1.0.0"
    primary = await client.get("/modules/primary/v2_dashboard", headers=admin)
    assert primary.json()["instance_id"] == NEW
    repositories = await client.get("/repository/repositories", headers=admin)
    by_id = {r["id"]: r for r in repositories.json()["items"]}
    assert by_id["team"]["url"] == str(workspace / "team-repository")
    assert (by_id["team"]["type"], by_id["team"]["priority"]) == ("file", 5)
    assert "vyra-official" not in by_id

    copied = modules_root / f"v2_dashboard_{OLD}"
    assert (copied / "frontend" / "index.html").read_text() == "<h1>v2_dashboard</h1>"
    assert not (copied / "outside-link").exists()
    assert (workspace / "modules" / f"v2_dashboard_{OLD}" / "frontend" / "index.html").exists()

    # Files lost after the import (a crash before they were copied) are copied by the next one.
    shutil.rmtree(copied)
    healed = await run(runtime, *args, "--apply")
    assert _entries(healed)[f"instance:{OLD}"] == ("update", "its files are missing here")
    assert (copied / "frontend" / "index.html").exists()
    audit = await client.get("/api/admin/audit", params={"action": "import.vyra"}, headers=admin)
    assert len(audit.json()["items"]) == 3
