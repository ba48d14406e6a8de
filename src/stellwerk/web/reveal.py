"""What a form's answer shows once (a new token, a rotated key, an import's report), carried
across the redirect that follows the form (post, redirect, get: reloading never sends the
form again).

The value travels in a cookie encrypted under a key derived from the master key (Fernet:
AES-CBC with an HMAC, and a timestamp), bound to the browser's session, valid for two
minutes, scoped to the one page that shows it, and deleted by the page that reads it. It is
never in a URL, never stored on the server, and the page that shows it is not cached."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from fastapi.responses import Response

from stellwerk.identity.auth import SESSION_COOKIE
from stellwerk.kit.secret import hash_token, tokens_equal
from stellwerk.runtime import Runtime

REVEAL_COOKIE = "stellwerk_reveal"
TTL_SECONDS = 120
# A cookie holds about 4 KiB, and encryption adds a third: callers cut what is larger.
MAX_BYTES = 2400


def _fernet(runtime: Runtime) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(runtime.key_for("web-reveal:v1")))


def _session_tag(request: Request) -> str:
    return hash_token(request.cookies.get(SESSION_COOKIE, ""))[:32]


def stash(
    response: Response, request: Request, runtime: Runtime, *, kind: str, value: Any, path: str
) -> None:
    """Have the page at `path` show `value` (JSON) once, within the next two minutes."""
    payload = json.dumps({"k": kind, "s": _session_tag(request), "v": value}).encode()
    if len(payload) > MAX_BYTES:
        raise ValueError("too much to carry in a cookie")
    response.set_cookie(
        REVEAL_COOKIE,
        _fernet(runtime).encrypt(payload).decode(),
        max_age=TTL_SECONDS,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def take(request: Request, runtime: Runtime, *, kind: str) -> Any | None:
    """The value stashed for this page and this session, or None (none, expired, another
    session's, or tampered with). Call `forget` on the page's response."""
    token = request.cookies.get(REVEAL_COOKIE)
    if not token:
        return None
    try:
        payload = json.loads(_fernet(runtime).decrypt(token.encode(), ttl=TTL_SECONDS))
    except (InvalidToken, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("k") != kind:
        return None
    if not tokens_equal(str(payload.get("s", "")), _session_tag(request)):
        return None
    return payload.get("v")


def fits(kind: str, value: Any) -> bool:
    """Whether `value` is small enough to stash."""
    return len(json.dumps({"k": kind, "s": "x" * 32, "v": value}).encode()) <= MAX_BYTES


def forget(response: Response, request: Request, *, path: str, shown: bool) -> Response:
    """Delete the cookie once read; a page that showed a value must not be kept in any cache."""
    if REVEAL_COOKIE in request.cookies:
        response.delete_cookie(REVEAL_COOKIE, path=path)
    if shown:
        response.headers["Cache-Control"] = "no-store"
    return response
