"""E-mail addresses: one loose syntax check (something@domain.tld) for every body that takes one."""

from __future__ import annotations

import re

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LENGTH = 320


def is_email(value: str) -> bool:
    return len(value) <= MAX_LENGTH and EMAIL_PATTERN.fullmatch(value) is not None


def check_email(value: str | None) -> str | None:
    """A field validator: an address, stripped; empty means none."""
    if value is None or value == "":
        return None
    value = value.strip()
    if not is_email(value):
        raise ValueError("not a valid email address")
    return value
