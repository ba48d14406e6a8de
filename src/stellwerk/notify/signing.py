"""Webhook signatures: `Stellwerk-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 over `"{t}.{body}"` under the endpoint's secret (the scheme Stripe uses)."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Stellwerk-Signature"
# A receiver should refuse signatures older than this (replays).
TOLERANCE_SECONDS = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, body, t)}"


def verify(
    secret: str,
    body: bytes,
    value: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: the timestamp is recent and one `v1` matches."""
    parts = [part.split("=", 1) for part in value.split(",") if "=" in part]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdecimal():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(secret, body, t)
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)
