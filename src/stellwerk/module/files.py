"""The modules root on disk, and the few atomic moves that keep it consistent after a crash.

    {root}/{module_name}_{instance_id}/   an installed instance (complete, or absent)
    {root}/.staging/{operation_id}/       an operation's download and unpacked tree
    {root}/.previous/{name}_{id}/         the old version while an update switches over
    {root}/.trash/                        directories on their way out (renamed, then deleted)
    {root}/.run/, {root}/.logs/           process runtime pid files and logs

Everything lives on one filesystem, so a directory appears in its final place by one rename.
Paths are built only from checked names and ids, and checked again to stay under the root.

The root lies outside the data directory (`{data_dir}-modules` unless configured). Others may
pass through the root and `.staging` (a module user reaches its own directory and an update's
candidate) but not list them; pid files, logs, old versions and the trash are Stellwerk's alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

from stellwerk.config import Settings
from stellwerk.exceptions import StellwerkError
from stellwerk.module.manifest import check_instance_id, check_module_name

log = logging.getLogger(__name__)

# Directory modes: passable for module users, or Stellwerk's own.
MODES = {
    "": 0o711,
    ".staging": 0o711,
    ".previous": 0o700,
    ".trash": 0o700,
    ".run": 0o700,
    ".logs": 0o700,
}
_moved: set[Path] = set()


def move_legacy_root(settings: Settings) -> None:
    """Instances used to live in `{data_dir}/modules`; move them out of the data directory once,
    entry by entry into the (empty) new root: on one filesystem each is a rename, and running
    module processes keep their working directory. Processes starting together take turns."""
    legacy, root = settings.legacy_modules_root, settings.resolved_modules_root
    if settings.modules_root is not None or legacy in _moved:
        return
    _moved.add(legacy)
    if not legacy.is_dir():
        return
    try:
        with (legacy.parent / ".modules-move.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not legacy.is_dir():
                return  # another process moved them a moment ago
            root.mkdir(parents=True, exist_ok=True)
            if any(root.iterdir()):
                log.error(
                    "instances are in both the old and the new modules directory; "
                    "merge them by hand (Stellwerk uses the new one)",
                    extra={"old": str(legacy), "new": str(root)},
                )
                return
            for entry in list(legacy.iterdir()):
                shutil.move(entry, root / entry.name)
            legacy.rmdir()
    except OSError as error:
        log.error(
            "could not move the modules directory out of the data directory; "
            "move it by hand or set STELLWERK_MODULES_DIR",
            extra={"old": str(legacy), "new": str(root), "error": str(error)},
        )
        return
    log.warning("moved the modules directory", extra={"old": str(legacy), "new": str(root)})


class ModuleFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def for_settings(cls, settings: Settings) -> ModuleFiles:
        move_legacy_root(settings)
        return cls(settings.resolved_modules_root)

    def _under(self, path: Path) -> Path:
        resolved = path.resolve()
        if resolved == self.root or self.root not in resolved.parents:
            raise ValueError(f"{path} is not inside the modules root")
        return resolved

    def ensure(self) -> None:
        for sub, mode in MODES.items():
            directory = self.root / sub
            directory.mkdir(parents=True, exist_ok=True)
            if (directory.stat().st_mode & 0o777) != mode:
                directory.chmod(mode)

    def instance_dir(self, module_name: str, instance_id: str) -> Path:
        check_module_name(module_name)
        check_instance_id(instance_id)
        return self._under(self.root / f"{module_name}_{instance_id}")

    def previous_dir(self, module_name: str, instance_id: str) -> Path:
        check_module_name(module_name)
        check_instance_id(instance_id)
        return self._under(self.root / ".previous" / f"{module_name}_{instance_id}")

    def staging_dir(self, operation_id: str) -> Path:
        return self._under(self.root / ".staging" / str(uuid.UUID(operation_id)))

    def run_file(self, unit_name: str) -> Path:
        return self._under(self.root / ".run" / f"{unit_name}.json")

    def log_file(self, unit_name: str) -> Path:
        return self._under(self.root / ".logs" / f"{unit_name}.log")

    def remove_tree(self, path: Path) -> None:
        """Delete a directory: first renamed into the trash (atomic), then removed."""
        path = self._under(path)
        if not path.exists() and not path.is_symlink():
            return
        self.ensure()
        doomed = self.root / ".trash" / uuid.uuid4().hex
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def place(self, source: Path, target: Path) -> None:
        """Move a finished tree into its final place in one rename (idempotent)."""
        source, target = self._under(source), self._under(target)
        if target.exists():
            if source.exists():
                raise FileExistsError(f"{target} already exists")
            return  # an earlier run already placed it
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def empty_trash(self) -> None:
        trash = self.root / ".trash"
        if trash.is_dir():
            for entry in trash.iterdir():
                shutil.rmtree(entry, ignore_errors=True)

    def staging_ids(self) -> list[str]:
        staging = self.root / ".staging"
        if not staging.is_dir():
            return []
        return [entry.name for entry in staging.iterdir()]

    def instance_dirs(self) -> list[tuple[str, str]]:
        """(module_name, instance_id) of every instance directory on disk."""
        found: list[tuple[str, str]] = []
        if not self.root.is_dir():
            return found
        for entry in self.root.iterdir():
            name, sep, instance_id = entry.name.rpartition("_")
            if entry.name.startswith(".") or not sep or not entry.is_dir():
                continue
            try:
                check_module_name(name)
                check_instance_id(instance_id)
            except StellwerkError:
                continue
            found.append((name, instance_id))
        return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
