"""Jinja2 templates shared by every page; `render` adds the user, CSRF token and flash messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from stellwerk import __version__
from stellwerk.identity.auth import Viewer
from stellwerk.kit.time import as_utc, iso

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["version"] = __version__
templates.env.filters["iso"] = iso

FLASH_COOKIE = "stellwerk_flash"


def when(value: dt.datetime | None) -> str:
    """A timestamp people read at a glance (UTC)."""
    return "" if value is None else as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["when"] = when


def seconds(value: float | None) -> str:
    """A duration people read at a glance: 0.4 s, 12 s, 3 min 5 s, 1 h 2 min."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.1f} s"
    whole = int(round(value))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


templates.env.filters["seconds"] = seconds


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    flash = request.cookies.get(FLASH_COOKIE)
    flash = unquote(flash) if flash else flash
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": viewer,
            "is_admin": bool(viewer and viewer.is_admin),
            # Staff and admins see everyone's servers, projects and redirects.
            "is_company": bool(viewer and viewer.is_company),
            "may": (lambda scope: bool(viewer and viewer.has(scope))),
            "csrf_token": viewer.csrf_token if viewer else "",
            "flash": flash,
            **(context or {}),
        },
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def flash(response: Any, message: str) -> None:
    """Show `message` on the next page the browser loads."""
    # Percent-encoded: a cookie holds only Latin-1, and messages name things people typed.
    value = quote(message[:300], safe=" ,.:;!?()/'-_")
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax")
