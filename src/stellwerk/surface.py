"""The API surfaces Stellwerk serves and the error envelope each one documents.

One error base class, rendered per surface: redirects answer `{"error", "code", ...}`, servers
`{"success": false, "error", "code", "field"}`, the license server `{"error", "code", "status"}`,
everything else `{"error", "code", "detail"}`.
"""

from __future__ import annotations

import enum
from typing import Any

from stellwerk.exceptions import MissingScope, StellwerkError


class Surface(enum.Enum):
    REDIRECT = "redirect"
    SERVER = "server"
    LICENSE = "license"
    WEB = "web"  # HTML pages: errors are pages too
    GENERIC = "generic"


_PREFIXES: tuple[tuple[str, Surface], ...] = (
    ("/api/v1/", Surface.REDIRECT),
    ("/api/vps", Surface.SERVER),
    ("/api/admin/providers", Surface.SERVER),
    ("/api/admin/plans", Surface.SERVER),
    ("/api/license", Surface.LICENSE),
    ("/api/version/", Surface.LICENSE),
    ("/api/customers", Surface.LICENSE),
    ("/api/licenses", Surface.LICENSE),
    ("/api/resources", Surface.LICENSE),
    ("/api/releases", Surface.LICENSE),
    ("/api/client-configs", Surface.LICENSE),
    ("/api/global-search", Surface.LICENSE),
    ("/api/generate-license-key", Surface.LICENSE),
    ("/leads/api/", Surface.LICENSE),
    ("/leads", Surface.WEB),
    ("/ui", Surface.WEB),
    ("/login", Surface.WEB),
    ("/logout", Surface.WEB),
)


def surface_for_path(path: str) -> Surface:
    for prefix, surface in _PREFIXES:
        if path.startswith(prefix):
            return surface
    return Surface.GENERIC


def error_body(error: StellwerkError, surface: Surface) -> dict[str, Any]:
    """The JSON body for `error` in the envelope `surface` documents."""
    if isinstance(error, MissingScope):
        # Identical on every surface, inside that surface's envelope.
        body: dict[str, Any] = {"error": "forbidden", "code": "missing_scope"}
        body["required"] = error.required
        if surface is Surface.SERVER:
            return {"success": False, **body}
        if surface is Surface.LICENSE:
            return {**body, "status": error.status}
        return body
    if surface is Surface.REDIRECT:
        return {"error": error.kind, "code": error.code, "message": error.message, **error.extra}
    if surface is Surface.SERVER:
        return {
            "success": False,
            "error": error.message,
            "code": error.code.upper(),
            "field": error.field,
            **error.extra,
        }
    if surface is Surface.LICENSE:
        body = {"error": error.message, "code": error.code.upper(), "status": error.status}
        if error.field:
            body["field"] = error.field
        return {**body, **error.extra}
    body = {"error": error.kind, "code": error.code, "detail": error.message}
    if error.field:
        body["field"] = error.field
    return {**body, **error.extra}
