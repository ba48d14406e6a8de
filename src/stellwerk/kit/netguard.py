"""Guarding outbound requests to URLs that users configure (server-side request forgery).

`check_url` refuses plain http unless allowed, and any host that resolves to a link-local,
cloud-metadata, multicast, unspecified or reserved address. `guarded_get` fetches such a URL with
the check repeated after connecting (against DNS rebinding), no automatic redirects, a size cap
and timeouts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services that are not link-local everywhere (Alibaba, AWS over IPv6).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
MAX_REDIRECTS = 3


class UnsafeUrl(ValueError):
    """The URL or the address it resolves to is not one Stellwerk will connect to."""


@dataclass(frozen=True)
class FetchedBody:
    url: str
    content: bytes
    content_type: str | None


def check_address(address: IPAddress) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        raise UnsafeUrl(f"{address} is a cloud metadata address")
    if address.is_link_local:
        raise UnsafeUrl(f"{address} is a link-local address")
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        raise UnsafeUrl(f"{address} is not a unicast address")


def check_url_syntax(url: str, *, allow_http: bool = False) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable URL (no resolving)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("Only https URLs are allowed")
    if scheme == "http" and not allow_http:
        raise UnsafeUrl("Plain http is not allowed for this URL; use https")
    if parts.username or parts.password:
        raise UnsafeUrl("Credentials in the URL are not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeUrl("The URL has no host")
    if host in METADATA_HOSTS:
        raise UnsafeUrl(f"{host} is a cloud metadata host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise UnsafeUrl("The URL has an invalid port") from error
    try:
        check_address(ipaddress.ip_address(host))
    except ValueError as error:
        if isinstance(error, UnsafeUrl):
            raise
    return scheme, host, port


async def check_url(url: str, *, allow_http: bool = False) -> list[IPAddress]:
    """Refuse unsafe URLs; returns the addresses the host resolves to."""
    _, host, port = check_url_syntax(url, allow_http=allow_http)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UnsafeUrl(f"Cannot resolve {host}: {error}") from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"{host} has no address")
    for address in addresses:
        check_address(address)
    return addresses


def _peer_address(response: httpx.Response) -> IPAddress | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    if not peer:
        return None
    try:
        return ipaddress.ip_address(peer[0])
    except ValueError:
        return None


async def guarded_get(
    url: str,
    *,
    allow_http: bool = False,
    ca_pem: str | None = None,
    max_bytes: int,
    timeout: float = 30.0,
) -> FetchedBody:
    """GET `url` with the SSRF checks; follows at most a few redirects, each checked again."""
    verify: ssl.SSLContext | bool = True
    if ca_pem:
        verify = ssl.create_default_context(cadata=ca_pem)
    async with httpx.AsyncClient(
        verify=verify, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_http=allow_http)
            async with client.stream("GET", url) as response:
                peer = _peer_address(response)
                if peer is not None:
                    check_address(peer)
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise UnsafeUrl(f"{url} answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdecimal() and int(declared) > max_bytes:
                    raise UnsafeUrl(f"{url} is larger than {max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise UnsafeUrl(f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return FetchedBody(
                    url=url,
                    content=b"".join(chunks),
                    content_type=response.headers.get("content-type"),
                )
        raise UnsafeUrl(f"Too many redirects from {url}")


@dataclass(frozen=True)
class Hop:
    url: str
    status: int


@dataclass(frozen=True)
class Trace:
    """Where a URL leads: every answer on the way, and how the walk ended."""

    hops: list[Hop]
    loop: bool
    error: str | None
    cert_expires_at: float | None  # epoch seconds, of the last https answer's certificate

    @property
    def final(self) -> Hop | None:
        return self.hops[-1] if self.hops else None

    @property
    def redirects(self) -> int:
        return sum(1 for hop in self.hops if 300 <= hop.status < 400)


def _certificate_expiry(response: httpx.Response) -> float | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    not_after = (ssl_object.getpeercert() or {}).get("notAfter")
    return ssl.cert_time_to_seconds(not_after) if isinstance(not_after, str) else None


def _reason(error: BaseException) -> str:
    """A short, human reason for a failed request (certificate problems named as such)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not valid: {cause.verify_message or cause.reason}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.TimeoutException):
        return "No answer in time"
    return str(error) or type(error).__name__


async def trace_redirects(
    url: str,
    *,
    max_hops: int = 10,
    timeout: float = 10.0,
    ca_pem: str | None = None,
    user_agent: str = "Stellwerk target check",
) -> Trace:
    """Follow `url`'s redirects one by one (at most `max_hops`), each hop checked against the
    SSRF rules before connecting and after (the peer address); certificates are verified. Never
    raises for what the far end does: failures are in `error`."""
    verify: ssl.SSLContext | bool = True
    if ca_pem:
        verify = ssl.create_default_context(cadata=ca_pem)
    hops: list[Hop] = []
    seen = {url}
    expires: float | None = None
    async with httpx.AsyncClient(
        verify=verify,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": user_agent},
    ) as client:
        for _ in range(max_hops + 1):
            try:
                await check_url(url, allow_http=True)
                async with client.stream("GET", url) as response:
                    peer = _peer_address(response)
                    if peer is not None:
                        check_address(peer)
                    expires = _certificate_expiry(response) if url.startswith("https:") else None
                    hops.append(Hop(url, response.status_code))
                    location = response.headers.get("location")
                    if not (response.is_redirect and location):
                        return Trace(hops, False, None, expires)
            except (UnsafeUrl, httpx.HTTPError, OSError) as error:
                return Trace(hops, False, _reason(error), expires)
            url = urljoin(url, location)
            if url in seen:
                return Trace(hops, True, f"Redirect loop back to {url}", expires)
            seen.add(url)
    return Trace(hops, False, f"More than {max_hops} redirects", expires)
