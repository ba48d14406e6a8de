"""`/api/v1/version`: this build against a configurable release feed, cached, never blocking."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from stellwerk import __version__
from stellwerk.config import Settings
from stellwerk.kit import netguard

log = logging.getLogger(__name__)

FEED_TIMEOUT_SECONDS = 3.0
FEED_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Release:
    version: str
    url: str | None


@dataclass
class _Cached:
    url: str
    release: Release | None
    expires: float


_cache: dict[str, _Cached] = {}


def version_key(version: str) -> tuple[int, ...]:
    """`v0.10.2` → (0, 10, 2); anything after the numbers (`-rc1`) is ignored."""
    numbers = re.match(r"^v?(\d+(?:\.\d+)*)", version.strip())
    return tuple(int(n) for n in numbers.group(1).split(".")) if numbers else ()


def parse_feed(payload: Any) -> Release | None:
    """A GitHub `releases/latest` object, a list of releases, or `{"version", "url"}`."""
    if isinstance(payload, list):
        candidates = [parse_feed(item) for item in payload]
        found = [c for c in candidates if c is not None]
        return max(found, key=lambda r: version_key(r.version)) if found else None
    if not isinstance(payload, dict):
        return None
    if payload.get("draft") or payload.get("prerelease"):
        return None
    version = payload.get("tag_name") or payload.get("version") or payload.get("latest")
    if not isinstance(version, str) or not version_key(version):
        return None
    url = payload.get("html_url") or payload.get("url") or payload.get("release_url")
    return Release(version.lstrip("v"), url if isinstance(url, str) else None)


async def latest_release(settings: Settings) -> Release | None:
    url = settings.release_feed_url
    if not url:
        return None
    cached = _cache.get(url)
    now = time.monotonic()
    if cached is not None and cached.expires > now:
        return cached.release
    release: Release | None = None
    try:
        # Through the SSRF guard: the feed may redirect, and no hop may reach metadata addresses.
        # Plain http and private addresses stay allowed: the operator chose this URL (a mirror
        # on the LAN, say).
        fetched = await netguard.guarded_get(
            url,
            allow_http=True,
            allow_private=True,
            max_bytes=FEED_MAX_BYTES,
            timeout=FEED_TIMEOUT_SECONDS,
        )
        release = parse_feed(json.loads(fetched.content))
    except (httpx.HTTPError, ValueError) as error:  # UnsafeUrl and bad JSON are ValueErrors
        log.warning("release feed unavailable: %s", type(error).__name__)
        # Offline: remember that for a minute, so every call does not wait for the timeout.
        _cache[url] = _Cached(url, None, now + min(60.0, settings.release_feed_cache_seconds))
        return None
    _cache[url] = _Cached(url, release, now + settings.release_feed_cache_seconds)
    return release


async def version_info(settings: Settings) -> dict[str, Any]:
    release = await latest_release(settings)
    newer = release is not None and version_key(release.version) > version_key(__version__)
    return {
        "current": __version__,
        "latest": release.version if release is not None and newer else __version__,
        "update_available": newer,
        "release_url": release.url if release is not None and newer else None,
        "auto_update": settings.auto_update,
    }


def clear_cache() -> None:
    _cache.clear()
