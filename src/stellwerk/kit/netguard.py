"""Guarding outbound requests to URLs that users configure (server-side request forgery).

`check_url` refuses plain http unless allowed, and any host that resolves to a link-local,
cloud-metadata, multicast, unspecified or reserved address; unless `allow_private` is given, also
loopback, private, unique-local and other non-global addresses (IPv4-mapped, 6to4 and NAT64
forms are judged by the IPv4 address they carry; `0x7f000001`, `2130706433` and `0177.0.0.1`
are read the way the system's resolver reads them).

`guarded_get` fetches such a URL through `GuardedTransport`: every connection resolves the host
once, checks every address, and connects to a checked address, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot send the request elsewhere. The
address actually connected to is checked again, redirects are followed by hand (each one
checked), and the size and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import typing
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
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
# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
MAX_REDIRECTS = 3
RESOLVE_TIMEOUT_SECONDS = 10.0
# What inet_aton(3) reads as an IPv4 address: 127.1, 0x7f000001, 2130706433, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")


class UnsafeUrl(ValueError):
    """The URL or the address it resolves to is not one Stellwerk will connect to."""


class PrivateAddress(UnsafeUrl):
    """Refused only because the address is not public: `allow_private` would let it through."""


class Unresolvable(UnsafeUrl):
    """The host does not resolve (now): nothing can be said about its addresses."""


@dataclass(frozen=True)
class FetchedBody:
    url: str
    content: bytes
    content_type: str | None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _private_kind(address: IPAddress) -> str | None:
    """What makes an address one that only an explicit allowance may reach (None: global)."""
    if address.is_loopback:
        return "loopback"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def check_address(address: IPAddress, *, allow_private: bool = False) -> None:
    """Refuse an address Stellwerk must not connect to.

    Always refused: cloud metadata, link-local, multicast, unspecified and reserved addresses.
    Refused unless `allow_private`: loopback, private (RFC 1918, unique-local, shared and
    documentation ranges) and every other address that is not globally routable.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            check_address(embedded, allow_private=allow_private)
            if address.ipv4_mapped is not None or address in NAT64_PREFIX:
                return  # the IPv4 address is what is reached
    if address in METADATA_ADDRESSES:
        raise UnsafeUrl(f"{address} is a cloud metadata address")
    if address.is_link_local:
        raise UnsafeUrl(f"{address} is a link-local address")
    if address.is_multicast or address.is_unspecified:
        raise UnsafeUrl(f"{address} is not a unicast address")
    kind = _private_kind(address)
    if address.is_reserved and kind != "loopback":  # ::1 is in the reserved ::/8
        raise UnsafeUrl(f"{address} is a reserved address")
    if kind is not None and not allow_private:
        raise PrivateAddress(f"{address} is a {kind} address")


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (also in inet_aton's forms), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url_syntax(
    url: str, *, allow_http: bool = False, allow_private: bool = False
) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable URL (no resolving; literal addresses checked)."""
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
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, allow_private=allow_private)
    return scheme, host, port


async def resolve(
    host: str, port: int, *, allow_private: bool = False, timeout: float | None = None
) -> list[IPAddress]:
    """Every address `host` resolves to, each checked; refused if any one is unsafe."""
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, allow_private=allow_private)
        return [literal]
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
            timeout or RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, TimeoutError) as error:
        raise Unresolvable(f"Cannot resolve {host}: {error}") from error
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(f"{host} has no address")
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses


async def check_url(
    url: str, *, allow_http: bool = False, allow_private: bool = False
) -> list[IPAddress]:
    """Refuse unsafe URLs; returns the addresses the host resolves to."""
    _, host, port = check_url_syntax(url, allow_http=allow_http, allow_private=allow_private)
    return await resolve(host, port, allow_private=allow_private)


class CheckedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses `resolve` checked: the name is resolved once per connection
    and the checked address is the one connected to (TLS still verifies the host name)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, allow_private=self._allow_private, timeout=timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # resolve never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeUrl("Unix sockets are not reachable through the outbound guard")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, on a connection pool whose connections go only to checked
    addresses (httpx has no setting for a network backend, so its pool is replaced)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, allow_private: bool = False) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            network_backend=CheckedNetworkBackend(allow_private=allow_private),
        )


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
    allow_private: bool = False,
    ca_pem: str | None = None,
    max_bytes: int,
    timeout: float = 30.0,
) -> FetchedBody:
    """GET `url` with the SSRF checks; follows at most a few redirects, each checked again."""
    context = (
        ssl.create_default_context(cadata=ca_pem)
        if ca_pem
        else httpx.create_ssl_context(trust_env=False)
    )
    transport = GuardedTransport(ssl_context=context, allow_private=allow_private)
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url_syntax(url, allow_http=allow_http, allow_private=allow_private)
            async with client.stream("GET", url) as response:
                peer = _peer_address(response)
                if peer is not None:
                    check_address(peer, allow_private=allow_private)
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
    allow_private: bool = False,
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
                await check_url(url, allow_http=True, allow_private=allow_private)
                async with client.stream("GET", url) as response:
                    peer = _peer_address(response)
                    if peer is not None:
                        check_address(peer, allow_private=allow_private)
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
