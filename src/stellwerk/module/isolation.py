"""Module processes without Stellwerk's privileges.

When Stellwerk runs as root, process-runtime modules run as an unprivileged user
(`STELLWERK_MODULE_USER`, default `stellwerk-module`, created as a system user without a home or
login shell when missing). Before a module starts, its directory is handed to that user, the
data directory (the master key, the SQLite database, the encrypted provider keys) is closed to
everyone but Stellwerk's own user (0700), and the modules directory must lie outside it.

When Stellwerk does not run as root it cannot switch users: modules then run as Stellwerk's own
user (docs/security.md says what that means).
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stellwerk.config import Settings
from stellwerk.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)

# What a module process finds on its PATH when it runs as the module user (login(1)'s default).
MODULE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The user names useradd(8) accepts by default (NAME_REGEX of adduser.conf).
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Passed through from Stellwerk's environment; nothing else is (no STELLWERK_*, no tokens).
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "TZ")


class ModuleIsolationFailed(ServiceUnavailable):
    default_code = "module_isolation_failed"


@dataclass(frozen=True)
class ModuleUser:
    name: str
    uid: int
    gid: int

    def popen_options(self) -> dict[str, Any]:
        """What `subprocess.Popen` needs to start a process as this user and nothing more."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o077}


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _create(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd", path=MODULE_PATH) or "useradd"
    argv = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    try:
        # A fixed program; the name was checked against USER_NAME.
        result = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=60, check=False
        )
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
    except (OSError, subprocess.TimeoutExpired) as error:
        detail = str(error)
    entry = _lookup(name)  # also there when a concurrent start created it first
    if entry is None:
        raise ModuleIsolationFailed(
            f"Module processes do not run as root, and the module user {name} does not exist "
            f"and could not be created ({detail}). Create it with `useradd --system "
            f"--no-create-home --shell /usr/sbin/nologin {name}`, or set STELLWERK_MODULE_USER "
            "to an existing unprivileged user."
        )
    log.info("created the module user", extra={"user": name, "uid": entry.pw_uid})
    return entry


def module_user(settings: Settings) -> ModuleUser | None:
    """The user module processes run as; None when Stellwerk is not root (it cannot switch)."""
    if os.geteuid() != 0:
        return None
    name = settings.module_user
    if not USER_NAME.fullmatch(name):
        raise ModuleIsolationFailed(
            f"STELLWERK_MODULE_USER {name!r} is not a valid user name "
            "(lowercase letters, digits, '_' and '-', at most 32)"
        )
    entry = _lookup(name) or _create(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ModuleIsolationFailed(
            f"The module user {name} has uid or gid 0; module processes never run as root"
        )
    return ModuleUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _allows(info: os.stat_result, user: ModuleUser, bit: int) -> bool:
    """Whether the permission `bit` (1 search/execute, 4 read) is the user's on this file."""
    if info.st_uid == user.uid:
        return bool(info.st_mode & (bit << 6))
    if info.st_gid == user.gid:
        return bool(info.st_mode & (bit << 3))
    return bool(info.st_mode & bit)


def blocked_on_the_way(path: Path, user: ModuleUser, *, execute: bool = False) -> Path | None:
    """The first directory on the way to `path` the user may not pass (or `path` itself, when
    `execute` and the user may not run it); None when the user can get there."""
    for candidate in {path.absolute(), path.resolve()}:
        for directory in reversed(candidate.parents):
            try:
                if not _allows(directory.stat(), user, 1):
                    return directory
            except OSError:
                return directory
        if execute:
            try:
                info = candidate.stat()
            except OSError:
                return candidate
            if not stat.S_ISREG(info.st_mode) or not _allows(info, user, 1):
                return candidate
    return None


def python_for(user: ModuleUser | None) -> str:
    """What `{python}` means in a module's command: Stellwerk's own interpreter, or, when the
    module user cannot run that one (a virtualenv under /root, say), the system's python3."""
    if user is None:
        return sys.executable
    candidates = [sys.executable, shutil.which("python3", path=MODULE_PATH)]
    for candidate in candidates:
        if candidate and blocked_on_the_way(Path(candidate), user, execute=True) is None:
            return candidate
    raise ModuleIsolationFailed(
        f"The module user {user.name} can run neither Stellwerk's Python ({sys.executable}) "
        f"nor a python3 on {MODULE_PATH}"
    )


def environment(base: dict[str, str], user: ModuleUser | None, home: Path) -> dict[str, str]:
    """A module process's environment: an allow-list, never Stellwerk's own settings or keys."""
    passed = {key: os.environ[key] for key in PASSED_ENVIRONMENT if key in os.environ}
    if user is None:
        passed["PATH"] = os.environ.get("PATH", MODULE_PATH)
    else:
        passed.update(PATH=MODULE_PATH, HOME=str(home), USER=user.name, LOGNAME=user.name)
    return {**passed, **base}


def _seal_data_dir(data_dir: Path) -> None:
    info = data_dir.stat()
    if info.st_mode & 0o077:
        os.chmod(data_dir, 0o700)
        log.warning(
            "the data directory was open to other users; it is 0700 now",
            extra={"data_dir": str(data_dir), "mode": oct(stat.S_IMODE(info.st_mode))},
        )


def _hand_over(path: Path, user: ModuleUser) -> None:
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    os.chmod(path, 0o700)
    for directory, subdirectories, files in os.walk(path):
        for name in (*subdirectories, *files):
            os.chown(Path(directory) / name, user.uid, user.gid, follow_symlinks=False)


def prepare(modules_root: Path, data_dir: Path, path: Path, user: ModuleUser) -> None:
    """Make `path` (an instance or update candidate) the module user's, after making sure that
    user can reach it and cannot reach the data directory."""
    data_dir = data_dir.resolve()
    if modules_root == data_dir or data_dir in modules_root.parents:
        raise ModuleIsolationFailed(
            f"The modules directory {modules_root} is inside the data directory {data_dir}; "
            "set STELLWERK_MODULES_DIR to a directory outside it"
        )
    _seal_data_dir(data_dir)
    blocked = blocked_on_the_way(path, user)
    if blocked is not None:
        raise ModuleIsolationFailed(
            f"The module user {user.name} cannot reach {path}: it may not enter {blocked}. "
            "Set STELLWERK_MODULES_DIR to a directory every parent of which others may enter "
            "(such as /var/lib/stellwerk-modules)"
        )
    _hand_over(path, user)
