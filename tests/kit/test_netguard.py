"""The outbound URL guard: link-local, metadata and non-https targets are refused."""

from __future__ import annotations

import ipaddress

import pytest

from stellwerk.kit.netguard import UnsafeUrl, check_address, check_url, check_url_syntax


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_unsafe_addresses(address: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "93.184.216.34", "2001:db8::1"])
def test_ordinary_addresses(address: str) -> None:
    check_address(ipaddress.ip_address(address))


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
    ],
)
def test_unsafe_urls(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url_syntax(url)


def test_http_only_when_allowed() -> None:
    assert check_url_syntax("http://example.com/x", allow_http=True) == ("http", "example.com", 80)
    assert check_url_syntax("https://Example.com./x")[1] == "example.com"


async def test_resolved_addresses_are_checked() -> None:
    assert ipaddress.ip_address("127.0.0.1") in await check_url("https://127.0.0.1:8443/")
    assert all(a.is_loopback for a in await check_url("https://localhost/"))  # /etc/hosts
