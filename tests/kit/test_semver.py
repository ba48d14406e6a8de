from __future__ import annotations

import pytest

from stellwerk.kit.semver import Version, is_version, parse_version


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.9.0", "1.10.0"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.2", "1.0.0-alpha.10"),
        ("1.0.0-2", "1.0.0-beta"),
        ("0.9", "1.0.0"),
    ],
)
def test_semantic_order(lower: str, higher: str) -> None:
    assert Version.parse(lower) < Version.parse(higher)


def test_parsing() -> None:
    assert str(Version.parse("v1.2")) == "1.2.0"
    assert Version.parse("1.2.3+build.5") == Version.parse("1.2.3")
    assert parse_version("latest") is None
    assert not is_version("01.2.3")
