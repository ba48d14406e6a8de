"""Recording a hit: hashing, forwarded addresses, bot and scanner flags (no database)."""

from __future__ import annotations

import hashlib
import re

from stellwerk.redirect.hits import SCANNER_PATHS, HitRecorder, SaltKeeper, TrustedProxies, utc_day
from stellwerk.redirect.repository import HitRow


def recorder(proxies: str = "") -> HitRecorder:
    return HitRecorder(SaltKeeper(b"k" * 32, retention_days=2), TrustedProxies(proxies))


def record(rec: HitRecorder, **fields: object) -> HitRow:
    values: dict[str, object] = {
        "domain_id": 1,
        "host": "a.example",
        "peer": "198.51.100.7",
        "forwarded_for": None,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "referer": None,
        "path": "/",
    }
    values.update(fields)
    return rec.record(**values)  # type: ignore[arg-type]


def test_hash_is_sha256_of_ip_and_the_days_salt() -> None:
    rec = recorder()
    hit = record(rec)
    salt = rec.salts.salt_for(utc_day())
    assert hit.ip_hash == hashlib.sha256(b"198.51.100.7" + salt).hexdigest()
    assert "198.51.100.7" not in repr(hit)
    assert re.fullmatch(r"[0-9a-f]{64}", hit.ip_hash)


def test_country_from_the_offline_database() -> None:
    assert record(recorder(), peer="8.8.8.8").country == "US"
    assert record(recorder(), peer="127.0.0.1").country is None


def test_forwarded_for_only_through_trusted_proxies() -> None:
    proxies = TrustedProxies("10.0.0.0/8, 127.0.0.1")
    assert proxies.client_ip("127.0.0.1", "203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert proxies.client_ip("198.51.100.1", "203.0.113.9") == "198.51.100.1"
    assert proxies.client_ip("127.0.0.1", "not-an-ip") == "127.0.0.1"
    assert TrustedProxies("").client_ip("127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_bots_and_scanners_are_flagged() -> None:
    rec = recorder()
    assert record(rec).is_bot is False
    assert record(rec, user_agent=None).is_bot is True
    assert record(rec, user_agent="Googlebot/2.1").is_bot is True
    assert record(rec, user_agent="curl/8.0").is_bot is True
    scanner = recorder()
    flags = [
        record(scanner, peer="198.51.100.99", path=f"/wp-admin/{i}").is_bot
        for i in range(SCANNER_PATHS + 2)
    ]
    assert flags[0] is False
    assert flags[-1] is True


def test_text_is_bounded_and_storable() -> None:
    hit = record(recorder(), user_agent="A\x00" + "x" * 2000, referer="r" * 5000)
    assert "\x00" not in hit.user_agent
    assert len(hit.user_agent) == 512
    assert len(hit.referer) == 1024
