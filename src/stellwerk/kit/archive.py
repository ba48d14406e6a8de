"""Unpacking untrusted tar archives without letting them write anywhere but the target.

Every member is checked before anything is written: no absolute names, no `..`, no device files
or FIFOs, no links that point outside the target, and limits on count and size. Extraction then
runs with tarfile's `data` filter as a second line of defence.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    """The archive is malformed or tries to write outside its target."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 10_000
    max_total_bytes: int = 500 * 1024 * 1024


def _inside(name: str) -> str:
    """The member's normalised relative path; raises if it would leave the target."""
    if not name or "\x00" in name:
        raise UnsafeArchive("An archive member has an empty or invalid name")
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ":" in name[:3]:
        raise UnsafeArchive(f"Absolute path in archive: {name}")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise UnsafeArchive(f"Path with '..' in archive: {name}")
    normalised = posixpath.normpath(name)
    if normalised.startswith("../") or normalised == "..":
        raise UnsafeArchive(f"Path escapes the archive root: {name}")
    return normalised


def _check_link(member: tarfile.TarInfo, name: str) -> None:
    target = member.linkname
    if not target or target.startswith("/") or PurePosixPath(target).is_absolute():
        raise UnsafeArchive(f"Link {member.name} points to an absolute path")
    # Symlinks resolve relative to their own directory, hard links relative to the root.
    base = posixpath.dirname(name) if member.issym() else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith(("../", "/")):
        raise UnsafeArchive(f"Link {member.name} points outside the archive")


def check_members(archive: tarfile.TarFile, limits: ArchiveLimits) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in archive:
        if len(members) >= limits.max_members:
            raise UnsafeArchive(f"The archive has more than {limits.max_members} entries")
        name = _inside(member.name)
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise UnsafeArchive(f"Device or FIFO in archive: {member.name}")
        if member.issym() or member.islnk():
            _check_link(member, name)
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"Unsupported entry type in archive: {member.name}")
        total += max(0, member.size)
        if total > limits.max_total_bytes:
            raise UnsafeArchive("The archive unpacks to more than the allowed size")
        members.append(member)
    return members


def safe_extract(archive_path: Path, target: Path, *, limits: ArchiveLimits | None = None) -> None:
    """Unpack a (gzip/bz2/xz) tar archive into the empty directory `target`.

    Raises `UnsafeArchive` before writing anything if any member is unsafe.
    """
    limits = limits or ArchiveLimits()
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise UnsafeArchive(f"The extraction target {target} is not empty")
    try:
        with tarfile.open(archive_path, mode="r:*") as archive:
            members = check_members(archive, limits)
            archive.extractall(target, members=members, filter="data")
    except tarfile.TarError as error:
        raise UnsafeArchive(f"Not a readable tar archive: {error}") from error
