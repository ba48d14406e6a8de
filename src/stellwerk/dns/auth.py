from __future__ import annotations

from stellwerk.registrar.auth import DnsReader, DnsWriter

__all__ = ["DnsReader", "DnsWriter"]
