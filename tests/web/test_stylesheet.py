"""The stylesheet's colours: text stays readable (WCAG AA, 4.5:1) in the light and the dark
scheme, on every background it is drawn on."""

from __future__ import annotations

import re

import pytest

from stellwerk.app import STATIC_DIR

CSS = (STATIC_DIR / "stellwerk.css").read_text()
# (text, background) pairs the pages draw.
PAIRS = [
    (text, background)
    for background in ("bg", "card", "raised", "nav-current", "nav-hover", "tag", "input")
    for text in ("fg", "muted", "link", "ok", "bad", "warn")
] + [
    ("fg", "flash"),
    ("link", "flash"),
    ("bad", "error"),
    ("fg", "created"),
    ("topbar-fg", "topbar"),
    ("topbar-muted", "topbar"),
    ("topbar-fg", "topbar-field"),
    ("topbar-muted", "topbar-field"),
    ("accent-fg", "accent"),
]


COLOUR = re.compile(r"--([a-z0-9-]+):#([0-9a-f]{6}|[0-9a-f]{3})\b")


def _colours(block: str) -> dict[str, str]:
    """`--name:#abc` and `--name:#aabbcc`, as #aabbcc."""
    return {
        name: "#" + (value if len(value) == 6 else "".join(c * 2 for c in value))
        for name, value in COLOUR.findall(block)
    }


def _blocks() -> tuple[str, str]:
    light = re.search(r":root \{(.*?)\}", CSS, re.S)
    dark = re.search(r"prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", CSS, re.S)
    assert light
    assert dark
    return light.group(1), dark.group(1)


def _scheme(dark: bool) -> dict[str, str]:
    light, night = _blocks()
    colours = _colours(light)
    if dark:
        colours.update(_colours(night))
    return colours


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_text_is_readable_in_both_schemes(dark: bool) -> None:
    colours = _scheme(dark)
    weak = [
        f"{text} on {background}: {contrast(colours[text], colours[background]):.2f}"
        for text, background in PAIRS
        if contrast(colours[text], colours[background]) < 4.5
    ]
    assert weak == []


def test_the_dark_scheme_sets_every_colour() -> None:
    light, night = _blocks()
    assert set(_colours(night)) == set(_colours(light))
