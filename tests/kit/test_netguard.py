"""The outbound URL guard: link-local, metadata and non-https targets are refused; loopback,
private and other non-public addresses only when allowed; connections go to the checked address."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from stellwerk.kit.netguard import (
    PrivateAddress,
    Unresolvable,
    UnsafeUrl,
    check_address,
    check_url,
    check_url_syntax,
    guarded_get,
    literal_address,
)
from tests.loopback import json_answer, loopback_server


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::",  # 6to4 of the metadata address
        "::7f00:1",  # IPv4-compatible (deprecated, reserved)
    ],
)
def test_always_unsafe_addresses(address: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(UnsafeUrl):
            check_address(ipaddress.ip_address(address), allow_private=allow_private)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",  # site-local (deprecated)
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:0a00:0001::",  # 6to4 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
def test_private_addresses_only_when_allowed(address: str) -> None:
    with pytest.raises(PrivateAddress):
        check_address(ipaddress.ip_address(address))
    check_address(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::808:808"]
)
def test_public_addresses(address: str) -> None:
    check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("::1", "::1"),
        ("a1.de", None),
        ("cafe.be", None),
        ("example.com", None),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert literal_address(host) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "ftp://example.com/",
        "https://user:secret@example.com/",
        "https:///nohost",
        "https://metadata.google.internal/",
        "https://169.254.169.254/",
        "https://[fe80::1]/",
        "https://example.com:99999/",
        "https://127.0.0.1/",
        "https://0x7f000001/",
        "https://2130706433/",
        "https://[::ffff:7f00:1]/",
        "https://10.0.0.1/",
    ],
)
def test_unsafe_urls(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url_syntax(url)


def test_http_only_when_allowed() -> None:
    assert check_url_syntax("http://example.com/x", allow_http=True) == ("http", "example.com", 80)
    assert check_url_syntax("https://Example.com./x")[1] == "example.com"
    assert check_url_syntax("https://0x7f000001:8443/", allow_private=True)[2] == 8443


async def test_resolved_addresses_are_checked() -> None:
    with pytest.raises(PrivateAddress):
        await check_url("https://localhost/")  # /etc/hosts: a name for loopback
    assert all(a.is_loopback for a in await check_url("https://localhost/", allow_private=True))
    with pytest.raises(Unresolvable):
        await check_url("https://does-not-resolve.invalid/")


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Answers for made-up names, one list of addresses per lookup, in order; counts lookups."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        addresses = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        answers.setdefault(f"{host}#lookups", []).append([])
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, int(port), 0, 0) if ":" in a else (a, int(port)),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


async def test_a_name_is_resolved_once_and_that_address_is_connected_to(
    resolver: dict[str, list[list[str]]],
) -> None:
    """DNS rebinding: the first answer is checked and connected to; a second, different answer
    (here ::1, where nothing listens) is never asked for."""
    with loopback_server(lambda path: json_answer({"path": path})) as base:
        port = base.rsplit(":", 1)[1]
        resolver["rebind.test"] = [["127.0.0.1"], ["::1"]]
        body = await guarded_get(
            f"http://rebind.test:{port}/index.json",
            allow_http=True,
            allow_private=True,
            max_bytes=1000,
        )
    assert body.content == b'{"path": "/index.json"}'
    assert len(resolver["rebind.test#lookups"]) == 1


async def test_a_name_that_resolves_inside_is_refused_before_connecting(
    resolver: dict[str, list[list[str]]],
) -> None:
    with loopback_server(lambda path: (500, {}, b"never asked")) as base:
        port = base.rsplit(":", 1)[1]
        resolver["inside.test"] = [["127.0.0.1"]]
        resolver["mixed.test"] = [["93.184.216.34", "127.0.0.1"]]
        resolver["mapped.test"] = [["::ffff:127.0.0.1"]]
        for host in ("inside.test", "mixed.test", "mapped.test", "0x7f000001", "2130706433"):
            with pytest.raises(UnsafeUrl, match="loopback"):
                await guarded_get(f"http://{host}:{port}/", allow_http=True, max_bytes=1000)


async def test_every_redirect_is_checked_before_connecting() -> None:
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""

    with loopback_server(answer) as base, pytest.raises(UnsafeUrl, match="metadata"):
        await guarded_get(f"{base}/index.json", allow_http=True, allow_private=True, max_bytes=1000)
