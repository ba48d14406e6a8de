"""Unpacking untrusted archives: every escape is refused before anything is written."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from stellwerk.kit.archive import ArchiveLimits, UnsafeArchive, safe_extract


def _archive(path: Path, *members: tuple[str, bytes, str]) -> Path:
    """members: (name, type, link or data)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                data = payload.encode()
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.linkname = payload
                archive.addfile(info)
    return path


OK = ("ok.txt", tarfile.REGTYPE, "fine")


@pytest.mark.parametrize(
    "hostile",
    [
        ("../evil", tarfile.REGTYPE, "x"),
        ("a/../../evil", tarfile.REGTYPE, "x"),
        ("/tmp/evil-absolute-stellwerk", tarfile.REGTYPE, "x"),
        ("link", tarfile.SYMTYPE, "/etc"),
        ("link", tarfile.SYMTYPE, "../../outside"),
        ("sub/link", tarfile.SYMTYPE, "../../outside"),
        ("hard", tarfile.LNKTYPE, "../outside"),
        ("dev", tarfile.CHRTYPE, ""),
        ("blk", tarfile.BLKTYPE, ""),
        ("fifo", tarfile.FIFOTYPE, ""),
    ],
)
def test_hostile_members_are_refused_and_nothing_is_written(
    tmp_path: Path, hostile: tuple[str, bytes, str]
) -> None:
    archive = _archive(tmp_path / "a.tar.gz", OK, hostile)
    target = tmp_path / "out" / "target"
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "out" / "evil").exists()
    assert not Path("/tmp/evil-absolute-stellwerk").exists()


def test_a_normal_archive_with_inner_links_unpacks(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "a.tar.gz",
        ("www/index.html", tarfile.REGTYPE, "<h1>hi</h1>"),
        ("current", tarfile.SYMTYPE, "www"),
        ("www/alias.html", tarfile.SYMTYPE, "index.html"),
    )
    target = tmp_path / "target"
    safe_extract(archive, target)
    assert (target / "www" / "index.html").read_text() == "<h1>hi</h1>"
    assert (target / "current" / "alias.html").read_text() == "<h1>hi</h1>"


def test_limits_and_garbage(tmp_path: Path) -> None:
    many = _archive(tmp_path / "m.tar.gz", *[(f"f{i}", tarfile.REGTYPE, "x") for i in range(5)])
    with pytest.raises(UnsafeArchive, match="more than 3"):
        safe_extract(many, tmp_path / "t1", limits=ArchiveLimits(max_members=3))
    big = _archive(tmp_path / "b.tar.gz", ("big", tarfile.REGTYPE, "x" * 100))
    with pytest.raises(UnsafeArchive, match="size"):
        safe_extract(big, tmp_path / "t2", limits=ArchiveLimits(max_total_bytes=10))
    garbage = tmp_path / "g.tar.gz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(UnsafeArchive, match="readable"):
        safe_extract(garbage, tmp_path / "t3")
