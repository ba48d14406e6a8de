"""The data plane's handler without a server: answers remembered per routing table, and every
request recorded as a hit, remembered answer or not."""

from __future__ import annotations

from pathlib import Path

from stellwerk.config import Settings
from stellwerk.redirect.dataplane import (
    ANSWER_CACHE_KEY_MAX,
    ANSWER_CACHE_MAX,
    DataPlane,
    make_route,
)
from stellwerk.redirect.hits import HitSpool


def plane(tmp_path: Path) -> DataPlane:
    settings = Settings(
        _env_file=None, data_dir=tmp_path, secret_key="test-secret-key-not-for-production"
    )
    data_plane = DataPlane.from_settings(settings, spool=True)
    data_plane.table.routes = {"a.example": make_route(1, "https://t.example", 301, True)}
    return data_plane


def ask(data_plane: DataPlane, host: bytes, path: bytes) -> tuple[int, bytes, bytes]:
    return data_plane.respond(b"GET", path, b"q=1", {b"host": host}, "198.51.100.7")


def recorded(data_plane: DataPlane) -> list[tuple[object, ...]]:
    assert isinstance(data_plane.writer, HitSpool)
    return [(hit.domain_id, hit.host, hit.path) for hit in data_plane.writer._buffer]


def test_a_remembered_answer_is_the_same_and_still_recorded(tmp_path: Path) -> None:
    data_plane = plane(tmp_path)
    first = ask(data_plane, b"A.example:8080", b"/x")
    assert first == (301, b"location: https://t.example/x?q=1\r\n", b"")
    assert ask(data_plane, b"A.example:8080", b"/x") == first
    assert ask(data_plane, b"other.example", b"/x")[0] == 404
    assert recorded(data_plane) == [
        (1, "a.example", "/x?q=1"),
        (1, "a.example", "/x?q=1"),
        (None, "other.example", "/x?q=1"),
    ]
    assert data_plane.served == 3


def test_a_new_routing_table_answers_at_once(tmp_path: Path) -> None:
    data_plane = plane(tmp_path)
    assert ask(data_plane, b"a.example", b"/x")[0] == 301
    assert ask(data_plane, b"a.example", b"/y")[0] == 301
    data_plane.table.routes = {"a.example": make_route(1, "https://u.example", 302, False)}
    assert ask(data_plane, b"a.example", b"/x") == (302, b"location: https://u.example\r\n", b"")
    assert len(data_plane._answers) == 1  # those of the old table are gone
    data_plane.table.routes = {}
    assert ask(data_plane, b"a.example", b"/x")[0] == 404


def test_remembered_answers_are_bounded(tmp_path: Path) -> None:
    data_plane = plane(tmp_path)
    for number in range(ANSWER_CACHE_MAX + 10):
        ask(data_plane, b"a.example", b"/%d" % number)
    assert len(data_plane._answers) <= ANSWER_CACHE_MAX
    assert ask(data_plane, b"a.example", b"/7")[1] == b"location: https://t.example/7?q=1\r\n"
    data_plane._answers.clear()
    long_path = b"/" + b"x" * ANSWER_CACHE_KEY_MAX
    assert ask(data_plane, b"a.example", long_path)[0] == 301
    assert data_plane._answers == {}  # answered, recorded, not remembered
    assert recorded(data_plane)[-1] == (1, "a.example", long_path.decode() + "?q=1")
