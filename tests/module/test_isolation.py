"""Module processes never run as root: what a module can reach when Stellwerk runs as root."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stellwerk.config import Settings
from stellwerk.module import isolation
from stellwerk.module.files import ModuleFiles
from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.runtime import Runtime
from tests.module.factories import RepositoryDir, install, manifest

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can switch users")

# The module's own view, written into its directory, then it idles like a service.
PROBE = """
import json, os, sys, time
report = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
          "environment": dict(os.environ), "cwd": os.getcwd()}
for name, path in (("secret_key", sys.argv[1]), ("database", sys.argv[2])):
    try:
        open(path, "rb").read()
        report[name] = "read"
    except OSError as error:
        report[name] = error.errno
try:
    report["listing"] = os.listdir(sys.argv[3])
except OSError as error:
    report["listing"] = error.errno
open("report.json", "w").write(json.dumps(report))
time.sleep(600)
"""
SECRETS = {
    "STELLWERK_SECRET_KEY": "must-not-leak-1",
    "STELLWERK_DATABASE_URL": "postgresql://stellwerk:must-not-leak-2@127.0.0.1/stellwerk",
    "STELLWERK_HETZNER_API_TOKEN": "must-not-leak-3",
    "HETZNER_API_TOKEN": "must-not-leak-4",
    "COOLIFY_API_TOKEN": "must-not-leak-5",
}


@pytest.fixture
def secrets_around(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Secrets in Stellwerk's environment, and a readable key file in its data directory."""
    key = runtime.settings.data_dir / "secret.key"
    existed = key.exists()
    if not existed:  # the tests configure their key; this file stands for a real one
        key.write_text("c2VjcmV0LWtleS1jYW5hcnk=\n")
        key.chmod(0o644)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    yield key
    if not existed:
        key.unlink()


def _report(path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def _uids(pid: int) -> set[str]:
    status = Path(f"/proc/{pid}/status").read_text()
    return set(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:])


@as_root
async def test_a_module_process_runs_unprivileged_and_sees_no_secrets(
    client: httpx.AsyncClient,
    modules_headers: dict[str, str],
    test_repository: RepositoryDir,
    runtime: Runtime,
    secrets_around: Path,
) -> None:
    data_dir = runtime.settings.data_dir
    database = data_dir / "stellwerk.sqlite"
    command = ["{python}", "-c", PROBE, str(secrets_around), str(database), str(data_dir)]
    test_repository.add_module(manifest("probe", "1.0.0", command=command))
    _, final = await install(client, modules_headers, "probe")
    assert final["status"] == "completed", final
    async with runtime.database.session() as session:
        (instance,) = await ModuleInstanceRepository(session).list(module_name="probe")
    directory = runtime.settings.resolved_modules_root / f"probe_{instance.id}"
    report = await asyncio.to_thread(_report, directory / "report.json")

    user = isolation.module_user(runtime.settings)
    assert user is not None
    assert report["uid"] == report["euid"] == user.uid != 0
    assert report["gid"] == user.gid != 0
    assert 0 not in report["groups"]
    assert await asyncio.to_thread(_uids, instance.runtime_state["pid"]) == {str(user.uid)}

    # The data directory is closed: neither the key nor the database, not even a listing.
    assert report["secret_key"] == errno.EACCES
    assert report["database"] == errno.EACCES
    assert report["listing"] == errno.EACCES
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    # Its own directory is its own, outside the data directory.
    assert Path(report["cwd"]) == directory
    assert data_dir.resolve() not in directory.parents
    assert directory.stat().st_uid == user.uid

    environment = report["environment"]
    own = [n for n in environment if n.startswith("STELLWERK_") and n != "STELLWERK_MODULE_UNIT"]
    assert own == []
    leaked = [name for name, value in SECRETS.items() if value in json.dumps(environment)]
    assert leaked == []
    assert set(environment) <= {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LC_ALL",
        "TZ",
        "PORT",
        "MODULE_NAME",
        "MODULE_INSTANCE_ID",
        "MODULE_VERSION",
        "MODULE_PATH",
        "STELLWERK_MODULE_UNIT",
        "LC_CTYPE",  # set by Python itself for the C locale (PEP 538)
    }
    assert environment["PATH"] == isolation.MODULE_PATH


@as_root
def test_a_data_directory_open_to_others_is_closed_before_a_module_starts(
    runtime: Runtime,
) -> None:
    """Outside pytest's own (closed) temporary directories: a world-readable key in a
    world-enterable data directory is out of the module user's reach once `prepare` ran."""
    user = isolation.module_user(runtime.settings)
    assert user is not None
    base = Path(tempfile.mkdtemp(prefix="stw-isolation-"))
    try:
        base.chmod(0o755)
        data, root = base / "data", base / "data-modules"
        data.mkdir(mode=0o755)
        (root / "app_1").mkdir(parents=True, mode=0o755)
        key = data / "secret.key"
        key.write_text("canary\n")
        key.chmod(0o644)
        probe = [isolation.python_for(user), "-c", f"open({str(key)!r}).read()"]
        before = subprocess.run(probe, capture_output=True, check=False, **user.popen_options())
        assert before.returncode == 0  # the danger: readable as things were
        isolation.prepare(root, data, root / "app_1", user)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert (root / "app_1").stat().st_uid == user.uid
        after = subprocess.run(probe, capture_output=True, check=False, **user.popen_options())
        assert after.returncode != 0
        assert b"PermissionError" in after.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_modules_directory_may_not_be_inside_the_data_directory(tmp_path: Path) -> None:
    user = isolation.ModuleUser(name="nobody", uid=65534, gid=65534)
    root = tmp_path / "data" / "modules"
    (root / "app_1").mkdir(parents=True)
    with pytest.raises(isolation.ModuleIsolationFailed, match="inside the data directory"):
        isolation.prepare(root, tmp_path / "data", root / "app_1", user)


def test_an_unreachable_modules_directory_is_a_clear_error(tmp_path: Path) -> None:
    user = isolation.ModuleUser(name="nobody", uid=65534, gid=65534)
    closed = tmp_path / "closed"
    (closed / "modules" / "app_1").mkdir(parents=True)
    closed.chmod(0o700)
    data = tmp_path / "data"
    data.mkdir()
    assert isolation.blocked_on_the_way(closed / "modules" / "app_1", user) is not None
    with pytest.raises(isolation.ModuleIsolationFailed, match="STELLWERK_MODULES_DIR"):
        isolation.prepare(closed / "modules", data, closed / "modules" / "app_1", user)


@as_root
def test_a_module_user_that_cannot_be_created_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(isolation.shutil, "which", lambda *args, **kwargs: "/bin/false")
    settings = Settings(_env_file=None, module_user="stw-never-created")  # type: ignore[call-arg]
    with pytest.raises(isolation.ModuleIsolationFailed, match="could not be created"):
        isolation.module_user(settings)
    bad = Settings(_env_file=None, module_user="Root Kit")  # type: ignore[call-arg]
    with pytest.raises(isolation.ModuleIsolationFailed, match="not a valid user name"):
        isolation.module_user(bad)
    root = Settings(_env_file=None, module_user="root")  # type: ignore[call-arg]
    with pytest.raises(isolation.ModuleIsolationFailed, match="never run as root"):
        isolation.module_user(root)


def test_python_for_a_module_user_is_one_it_can_run() -> None:
    user = isolation.ModuleUser(name="nobody", uid=65534, gid=65534)
    python = isolation.python_for(user)
    assert isolation.blocked_on_the_way(Path(python), user, execute=True) is None


def test_instances_move_out_of_the_data_directory_once(tmp_path: Path) -> None:
    """Instances used to live in `{data_dir}/modules`: the first use moves them beside it."""
    data = tmp_path / "var"
    (data / "modules" / "app_1").mkdir(parents=True)
    (data / "modules" / "app_1" / "module.json").write_text("{}")
    (data / "modules" / ".run").mkdir()
    (tmp_path / "var-modules").mkdir()  # created empty beforehand (systemd's StateDirectory)
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    assert settings.resolved_modules_root == tmp_path / "var-modules"
    files = ModuleFiles.for_settings(settings)
    assert files.root == tmp_path / "var-modules"
    assert (files.root / "app_1" / "module.json").read_text() == "{}"
    assert not (data / "modules").exists()
    files.ensure()
    assert stat.S_IMODE(files.root.stat().st_mode) == 0o711
    assert stat.S_IMODE((files.root / ".run").stat().st_mode) == 0o700
    configured = Settings(_env_file=None, data_dir=data, modules_root=tmp_path / "m")  # type: ignore[call-arg]
    assert ModuleFiles.for_settings(configured).root == tmp_path / "m"
