"""Normalising the names and URLs a redirect is made of, refusing what cannot work or is unsafe."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from stellwerk.exceptions import ValidationFailed
from stellwerk.kit import idn

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_TARGET_LENGTH = 2048


def _invalid(message: str, field: str, code: str = "validation_error") -> ValidationFailed:
    return ValidationFailed(message, code=code, field=field, extra={"field": field})


def normalize_domain(raw: str, *, field: str = "domain") -> str:
    """`Alt-Firma.DE.` → `alt-firma.de`; IDNs become punycode. IPs, URLs and ports are refused."""
    name = raw.strip().rstrip(".").lower()
    if not name:
        raise _invalid("A domain name is required", field)
    if any(c in name for c in "/:@?#[] \t"):
        raise _invalid("Send a bare domain name: no scheme, port, path or spaces", field)
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise _invalid("An IP address cannot be a redirect domain", field, "ip_not_allowed")
    try:
        ascii_name = idn.to_ascii(name)
    except idn.InvalidDomain as error:
        raise _invalid(f"Not a valid domain name: {error}", field) from error
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise _invalid("A domain name needs at least two labels (like example.com)", field)
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _invalid("Not a valid domain name", field)
    if labels[-1].isdecimal():
        raise _invalid("The top-level domain cannot be numeric", field)
    return ascii_name


def normalize_target_url(raw: str, *, field: str = "target_url") -> str:
    """An absolute http(s) URL with a host, without credentials; the host in punycode."""
    url = raw.strip()
    if len(url) > MAX_TARGET_LENGTH:
        raise _invalid(f"The target URL is longer than {MAX_TARGET_LENGTH} characters", field)
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise _invalid("The target URL must not contain spaces or control characters", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _invalid(f"Not a valid URL: {error}", field) from error
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid("The target URL must be absolute and start with http:// or https://", field)
    if parts.username is not None or parts.password is not None:
        raise _invalid("The target URL must not contain credentials", field)
    if not parts.hostname:
        raise _invalid("The target URL needs a host", field)
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        netloc_host = f"[{host}]" if ":" in host else host
    except ValueError:
        netloc_host = normalize_domain(host, field=field) if "." in host else host.lower()
    netloc = netloc_host if port is None else f"{netloc_host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def target_host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
