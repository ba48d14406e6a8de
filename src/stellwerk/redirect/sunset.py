"""Sunset pages: a domain that stops redirecting and answers a small page instead.

The page says the site has moved to the target (`200`) or has been closed (`410 Gone`), links the
target, names the company and, when a date is set, when the old address goes away; the answer then
carries a `Sunset` header (RFC 8594). The data plane renders the page once, when it loads its
routing table, so answering costs what a redirect costs.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from html import escape
from typing import Any

from stellwerk.exceptions import ValidationFailed

STATUS_CODES = (410, 200)
LIMITS = {"title": 200, "message": 2000, "button_label": 50, "company_name": 200}
FIELDS = ("status_code", "sunset_date", "title", "message", "button_label", "company_name")


def _invalid(message: str, field: str) -> ValidationFailed:
    name = f"sunset_config.{field}"
    return ValidationFailed(message, field=name, extra={"field": name})


def parse_date(value: object) -> dt.date | None:
    """`YYYY-MM-DD` (also `DD.MM.YYYY`, as the original product's form took it) or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    raise _invalid("sunset_date must be a date like 2026-12-31", "sunset_date")


def normalize(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored form of a sunset configuration; None (no sunset) when it is absent or off."""
    if config is None or config.get("enabled") is False:
        return None
    unknown = sorted(set(config) - {*FIELDS, "enabled"})
    if unknown:
        raise _invalid(f"Unknown sunset setting {unknown[0]!r}", unknown[0])
    status = config.get("status_code", 410)
    if isinstance(status, str) and status.strip().isdecimal():
        status = int(status.strip())
    if isinstance(status, bool) or status not in STATUS_CODES:
        raise _invalid("status_code must be 410 (gone) or 200 (moved)", "status_code")
    result: dict[str, Any] = {"enabled": True, "status_code": status}
    day = parse_date(config.get("sunset_date"))
    result["sunset_date"] = day.isoformat() if day else None
    for name, limit in LIMITS.items():
        value = config.get(name)
        if value is None:
            result[name] = None
            continue
        if not isinstance(value, str):
            raise _invalid(f"{name} must be text", name)
        text = value.replace("\x00", "").strip()
        if len(text) > limit:
            raise _invalid(f"{name} is longer than {limit} characters", name)
        result[name] = text or None
    return result


def sunset_header(config: dict[str, Any]) -> str | None:
    """The `Sunset` HTTP date: the start of the configured day, UTC."""
    day = config.get("sunset_date")
    if not day:
        return None
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=dt.UTC)
    return format_datetime(moment, usegmt=True)


def render(domain: str, target_url: str, config: dict[str, Any]) -> tuple[int, bytes, bytes]:
    """Status, header lines and body of the page."""
    gone = config.get("status_code") == 410
    company = config.get("company_name")
    title = config.get("title") or (f"{domain} has been closed" if gone else f"{domain} has moved")
    if config.get("message"):
        message = config["message"]
    elif gone:
        message = f"This site has been closed. Please visit {target_url} instead."
    else:
        message = f"This site has moved to {target_url}. Please update your bookmarks."
    button = config.get("button_label") or "Continue"
    day = config.get("sunset_date")
    when = ""
    if day:
        verb = "closed" if gone else "switched off"
        when = f'<p class="date">The old address will be {verb} on {escape(day)}.</p>'
    footer = f'<p class="company">{escape(company)}</p>' if company else ""
    body = (
        "<!doctype html><html><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;"
        "align-items:center;justify-content:center;padding:24px;color:#111;line-height:1.6}"
        "main{max-width:540px;text-align:center}h1{font-size:1.4rem}"
        "p{white-space:pre-wrap}.date,.company{color:#555;font-size:.9rem}"
        "a.go{display:inline-block;padding:10px 24px;background:#111;color:#fff;"
        "text-decoration:none;border-radius:6px}"
        "</style></head><body><main>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{when}"
        f'<p><a class="go" href="{escape(target_url)}">{escape(button)}</a></p>'
        f"{footer}</main></body></html>"
    ).encode()
    headers = "content-type: text/html; charset=utf-8\r\ncache-control: no-store\r\n"
    headers += "x-robots-tag: noindex\r\n"
    sunset = sunset_header(config)
    if sunset:
        headers += f"sunset: {sunset}\r\n"
    return (410 if gone else 200), headers.encode(), body
