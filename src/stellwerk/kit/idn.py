"""Internationalised domain names: IDNA 2008 (with UTS 46 mapping) to punycode, minus homographs.

A label may use one script, or the combinations a language needs (Japanese mixes Han, Hiragana,
Katakana and Latin; Korean Han, Hangul and Latin; Chinese Han, Bopomofo and Latin). Mixing Latin
with Cyrillic or Greek, the usual way to imitate another name, is refused, and so is a label made
only of Cyrillic letters that look Latin (`аррӏе`) under a top-level domain that is not Cyrillic.
"""

from __future__ import annotations

import unicodedata

import idna

_ALLOWED_MIXES: tuple[frozenset[str], ...] = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
)
# Cyrillic letters drawn like Latin ones.
_CYRILLIC_LOOKALIKES = frozenset("асԁеһіјӏорԛѕԝхуүь")


class InvalidDomain(ValueError):
    """Not a domain name Stellwerk accepts; the message says why."""


def _script(char: str) -> str | None:
    """The script of a letter (by its Unicode name); None for digits, hyphens and marks."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ")[0] or None


def _check_label(label: str, tld: str) -> None:
    scripts = {s for s in map(_script, label) if s is not None}
    if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES):
        raise InvalidDomain(f"{label!r} mixes scripts ({', '.join(sorted(scripts))})")
    if (
        scripts == {"CYRILLIC"}
        and all(c in _CYRILLIC_LOOKALIKES or _script(c) is None for c in label)
        and _script(tld[:1]) != "CYRILLIC"
    ):
        raise InvalidDomain(f"{label!r} imitates a Latin name with Cyrillic letters")


def to_ascii(name: str) -> str:
    """`Bücher.DE.` → `xn--bcher-kva.de`; raises `InvalidDomain`. Punycode input is checked as
    the Unicode name it stands for."""
    name = name.strip().rstrip(".")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
        unicode_labels = idna.decode(ascii_name).split(".")
    except (idna.IDNAError, UnicodeError) as error:
        raise InvalidDomain(str(error) or "not a domain name") from error
    for label in unicode_labels:
        _check_label(label, unicode_labels[-1])
    return ascii_name
