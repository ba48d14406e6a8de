"""Checking a redirect domain's DNS records against the addresses Stellwerk answers on."""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from stellwerk.config import Settings

LOOKUP_SECONDS = 3.0


@dataclass(frozen=True)
class ExpectedRecord:
    type: str  # A | AAAA
    name: str
    value: str


@dataclass(frozen=True)
class RecordCheck:
    type: str
    name: str
    expected: str
    found: list[str]
    ok: bool
    error: str | None = None


def expected_records(settings: Settings, domain: str, *, include_www: bool) -> list[ExpectedRecord]:
    """The records the owner must set: A (and AAAA) for the apex and, if wanted, `www`."""
    names = [domain, f"www.{domain}"] if include_www else [domain]
    records = []
    for name in names:
        if settings.public_ipv4:
            records.append(ExpectedRecord("A", name, settings.public_ipv4))
        if settings.public_ipv6:
            records.append(ExpectedRecord("AAAA", name, settings.public_ipv6))
    return records


def parse_resolvers(value: str | None) -> list[tuple[str, int]]:
    """`1.1.1.1, 127.0.0.1:5353, [::1]:53` → [(host, port), ...]."""
    resolvers = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 53
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = int(port_text)
        else:
            host, port = item, 53
        resolvers.append((host, port))
    return resolvers


def make_resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    configured = parse_resolvers(settings.dns_resolvers)
    if not configured:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port) for host, port in configured
        ]
    resolver.lifetime = LOOKUP_SECONDS
    resolver.timeout = LOOKUP_SECONDS
    resolver.cache = None
    return resolver


async def check_records(settings: Settings, records: list[ExpectedRecord]) -> list[RecordCheck]:
    resolver = make_resolver(settings)
    checks = []
    for record in records:
        found: list[str] = []
        error: str | None = None
        try:
            answer = await resolver.resolve(record.name, record.type, search=False)
            found = sorted({rdata.to_text() for rdata in answer})
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            error = f"{record.name} has no {record.type} record"
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            error = f"The DNS lookup of {record.name} failed: {type(exc).__name__}"
        ok = record.value in found
        if not ok and error is None:
            error = f"{record.name} {record.type} points to {', '.join(found)}, not {record.value}"
        checks.append(
            RecordCheck(record.type, record.name, record.value, found, ok, None if ok else error)
        )
    return checks
