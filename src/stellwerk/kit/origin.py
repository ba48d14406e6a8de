"""Whether a browser request comes from a page of our own (or of an origin we allow).

Browsers send `Origin` with every WebSocket handshake and every cross-site unsafe request, and
pages of another site cannot forge it; a request without one comes from no browser page at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-case."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str] = ()) -> bool:
    """True for no `Origin` (not a browser page), a page of the host the request was sent to
    (whatever the scheme: a proxy in front may end TLS), or an allowed origin."""
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in allowed:
        return True
    if origin == "null" or not host:
        return False
    return urlsplit(origin).netloc == host.strip().lower()
