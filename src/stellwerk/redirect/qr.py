"""QR codes linking to a redirect domain (segno: QR Code model 2, ISO/IEC 18004)."""

from __future__ import annotations

import io
from typing import Literal

import segno

QrFormat = Literal["svg", "png"]
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


def domain_url(domain: str) -> str:
    """What the code opens: the domain over https (the data plane redirects from there)."""
    return f"https://{domain}/"


def render(domain: str, kind: QrFormat, *, scale: int = 8, border: int = 4) -> bytes:
    """The code as SVG or PNG; `scale` is pixels (SVG: user units) per module."""
    code = segno.make(domain_url(domain), error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        title = f"QR code for {domain}"
        code.save(buffer, kind="svg", scale=scale, border=border, xmldecl=False, title=title)
    else:
        code.save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
