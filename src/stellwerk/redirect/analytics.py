"""What a hit is counted by: referrer host, path, browser, operating system and device class.

Computed by the hit writer when it stores a batch, never on the request path. User agents are
parsed with ua-parser (the uap-core rules, updated with the `ua-parser-builtins` package);
visitors send few distinct agents, so results are cached.
"""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import urlsplit

from ua_parser import parse

MAX_VALUE = 255
# Values counted beyond this many per scope, day and dimension go to `OTHER`.
VALUES_PER_DAY = 100
VALUES_PER_MONTH = 300
OTHER = "(other)"

# Device classes, as ua-parser reports no class of its own.
DESKTOP, MOBILE, TABLET, BOT, UNKNOWN = "desktop", "mobile", "tablet", "bot", ""
_MOBILE_SYSTEMS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS"}
)
_DESKTOP_SYSTEMS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "Debian"}
)


class Agent(NamedTuple):
    browser: str
    os: str
    device: str


def _device(family: str, brand: str, os_family: str, agent: str) -> str:
    if family == "Spider":
        return BOT
    lowered = f"{family} {brand}".lower()
    if "tablet" in lowered or family.startswith("iPad") or "kindle" in lowered:
        return TABLET
    if os_family == "Android" and "Mobile" not in agent:
        return TABLET  # Android tablets leave "Mobile" out of their user agent
    if os_family in _MOBILE_SYSTEMS or family in ("iPhone", "Generic Smartphone"):
        return MOBILE
    if os_family in _DESKTOP_SYSTEMS or os_family.startswith("Windows"):
        return DESKTOP
    return UNKNOWN


@functools.lru_cache(maxsize=10_000)
def agent(user_agent: str | None) -> Agent:
    """Browser, OS and device class of a user agent ("" for what is unknown)."""
    if not user_agent:
        return Agent(UNKNOWN, UNKNOWN, UNKNOWN)
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else ""
    os_family = result.os.family if result.os else ""
    device = result.device
    kind = _device(
        device.family if device else "",
        (device.brand or "") if device else "",
        os_family,
        user_agent,
    )
    return Agent(
        "" if browser == "Other" else browser[:MAX_VALUE],
        "" if os_family == "Other" else os_family[:MAX_VALUE],
        kind,
    )


def warm_up() -> None:
    """Compile the parser's rules now (a few hundred milliseconds), not with the first batch."""
    parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0")


def referrer_host(referer: str | None) -> str:
    """The host of the referring page, lower-case without `www.`; "" for direct visits."""
    if not referer:
        return ""
    try:
        host = urlsplit(referer.strip()).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    return host.removeprefix("www.")[:MAX_VALUE]


def path_only(path: str) -> str:
    """The path without its query, bounded."""
    return path.split("?", 1)[0][:MAX_VALUE] or "/"
