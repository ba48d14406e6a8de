"""The API surfaces Stellwerk serves and the error envelope each one documents.

One error base class, rendered per surface: redirects answer `{"error", "code", ...}`, servers
`{"success": false, "error", "code", "field"}`, the license server `{"error", "code", "status"}`,
everything else `{"error", "code", "detail"}`.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
        if surface is Surface.REDIRECT:
            return body  # exactly these three keys, as nexredirect-api.md shows it
        if surface is Surface.SERVER:
            return {"success": False, **body, "field": None}
        if surface is Surface.LICENSE:
            return {**body, "status": error.status}
        return {**body, "detail": error.message}
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


class FieldError(BaseModel):
    field: str | None = Field(description="The offending field, dotted (`items.0.name`)")
    message: str


class _Envelope(BaseModel):
    # Errors may add keys of their own (`required`, `retry_after`, `missing_ids`, ...).
    model_config = ConfigDict(extra="allow")

    field: str | None = Field(default=None, description="The field the error is about")
    errors: list[FieldError] | None = Field(
        default=None, description="Validation errors: every offending field"
    )


class RedirectError(_Envelope):
    error: str = Field(description="The kind of error, such as `not_found`")
    code: str
    message: str | None = None


class ServerError(_Envelope):
    success: Literal[False]
    error: str = Field(description="What went wrong, for people")
    code: str


class LicenseError(_Envelope):
    error: str = Field(description="What went wrong, for people")
    code: str
    status: int = Field(description="The HTTP status, repeated")


class GenericError(_Envelope):
    error: str = Field(description="The kind of error, such as `not_found`")
    code: str
    detail: str = Field(description="What went wrong, for people")


_ENVELOPES: dict[Surface, type[BaseModel]] = {
    Surface.REDIRECT: RedirectError,
    Surface.SERVER: ServerError,
    Surface.LICENSE: LicenseError,
    Surface.GENERIC: GenericError,
}


def error_responses(surface: Surface) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a router: the envelope its errors come in (FastAPI would
    otherwise document its own validation error body, which Stellwerk never sends)."""
    model = _ENVELOPES[surface]
    return {
        422: {"model": model, "description": "Validation error: `errors` lists each field"},
        "4XX": {"model": model, "description": "Error"},
        503: {
            "model": model,
            "description": "Unavailable: the database cannot be reached (`Retry-After` says "
            "when to try again), or something the operation depends on, such as a module "
            "repository (`code` names it)",
        },
    }
