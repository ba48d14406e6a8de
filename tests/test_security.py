"""Security checks across surfaces: hostile text, body limits, IDN homographs, path traversal,
SSRF on every URL Stellwerk fetches, and how secrets are stored.

Headers, CSRF, the secrets scan and the netguard/archive units have their own tests
(tests/identity, tests/test_serve.py, tests/kit); these go through the running app.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from stellwerk.identity.scope import ALL_SCOPES
from stellwerk.middleware import MAX_BODY_BYTES
from stellwerk.project.workflow import check_health
from stellwerk.redirect import version
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, surface_for_path
from tests.factories import (
    DEFAULT_PASSWORD,
    bearer,
    create_admin,
    create_api_key,
    create_token,
    jwt_for,
)
from tests.loopback import json_answer, loopback_server
from tests.provider.running import provider_sandboxes

# The app's background work may draw from `random` while Hypothesis generates an example.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module")


@dataclass
class Credentials:
    admin: dict[str, str]  # login JWT
    token: dict[str, str]  # `nrx_` token with every scope
    api_key: dict[str, str]  # license clients


@pytest.fixture
async def creds(runtime: Runtime) -> Credentials:
    admin = await create_admin(runtime)
    return Credentials(
        admin=bearer(jwt_for(runtime, admin)),
        token=bearer(await create_token(runtime, admin, sorted(ALL_SCOPES))),
        api_key={"X-API-Key": await create_api_key(runtime)},
    )


def assert_envelope(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    """The status is one of `status`, and the body is the error envelope of the path's surface."""
    allowed = (status,) if isinstance(status, int) else status
    assert response.status_code in allowed, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    surface = surface_for_path(response.request.url.path)
    assert isinstance(body["error"], str)
    assert isinstance(body["code"], str)
    if surface is Surface.SERVER:
        assert body["success"] is False
    elif surface is Surface.LICENSE:
        assert body["status"] == response.status_code
    elif surface is Surface.GENERIC:
        assert isinstance(body["detail"], str)
    return body


# --- (a) hostile text in free-text fields ---------------------------------------------------

SQL_INJECTION = [
    "'; DROP TABLE customers; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(5)--",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "\\'; --",
    "%' AND 1=0 UNION SELECT username, password_hash FROM users --",
    "admin'/*",
    "`id`",
    "$1 $$ $tag$",
]
ODD_UNICODE = [
    "\u202eevil\u202c.exe",  # right-to-left override
    "\u200f\u200e\u061c mark",  # RTL/LTR marks
    "zero\u200bwidth\ufeffbom",
    "nul\x00byte",
    "e\u0301\u0301\u0301 combining",
    "😀👩‍👩‍👧 emoji",
    "日本語のテキスト",
    "\U0010fffd private",
    "tab\tand\nnewline",
    "\x7f\x1b[31mansi",
]
_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
)
HOSTILE_TEXT = (
    st.one_of(
        st.sampled_from(SQL_INJECTION + ODD_UNICODE),
        st.builds("".join, st.lists(st.sampled_from(SQL_INJECTION + ODD_UNICODE), max_size=4)),
        _text,
        st.integers(min_value=150, max_value=12_000).map(lambda n: ("'\u202e\x00" * n)[:n]),
    )
    # Names are trimmed on purpose; what matters is what happens between the ends.
    .map(str.strip)
    .filter(bool)
)


_serial = itertools.count(1)


@dataclass(frozen=True)
class TextField:
    create: str  # path that creates (POST)
    fields: tuple[str, ...]  # free-text fields, each filled with the hostile text
    read: str  # path template that reads the created object back
    fixed: tuple[tuple[str, Any], ...] = ()
    unique: bool = False  # the text must differ from every earlier one (identifiers)


TEXT_FIELDS = [
    TextField("/api/customers", ("name", "notes"), "/api/customers/{id}"),
    TextField("/leads/api/institutions", ("name",), "/leads/api/institutions/{id}", unique=True),
    TextField("/api/client-configs", ("name",), "/api/client-configs/{id}", unique=True),
    TextField(
        "/api/releases",
        ("release_notes",),
        "/api/releases/{id}",
        fixed=(("version", lambda: f"1.2.{next(_serial)}"),),
    ),
    TextField(
        "/api/resources",
        ("identifier",),
        "/api/resources/{id}",
        fixed=(("type", "domain"),),
        unique=True,
    ),
    TextField(
        "/api/tokens",
        ("name",),
        "/api/tokens",
        fixed=(("scopes", ["read:domains"]),),
    ),
]


@pytest.mark.parametrize("target", TEXT_FIELDS, ids=[t.create for t in TEXT_FIELDS])
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=HOSTILE_TEXT)
async def test_hostile_text_is_stored_verbatim_or_refused(
    target: TextField, value: str, client: httpx.AsyncClient, creds: Credentials
) -> None:
    headers = creds.admin
    if target.unique:
        value = f"{next(_serial)}{value}"
    fixed = {key: value() if callable(value) else value for key, value in target.fixed}
    body = {**fixed, **dict.fromkeys(target.fields, value)}
    created = await client.post(target.create, json=body, headers=headers)
    if created.status_code == 422:
        assert_envelope(created, 422)
        return
    assert created.status_code in (200, 201), created.text
    stored = created.json()
    read = await client.get(target.read.format(id=stored["id"]), headers=headers)
    assert read.status_code == 200, read.text
    again = read.json()
    if isinstance(again, dict) and "items" in again:
        again = next(item for item in again["items"] if item["id"] == stored["id"])
    for field in target.fields:
        assert stored[field] == value
        assert again[field] == value


@pytest.mark.parametrize("payload", SQL_INJECTION)
async def test_injection_in_search_matches_nothing(
    payload: str, client: httpx.AsyncClient, creds: Credentials
) -> None:
    for name in ("Alpha GmbH", "Beta AG"):
        await client.post("/api/customers", json={"name": name}, headers=creds.admin)
    listed = await client.get("/api/customers", params={"search": payload}, headers=creds.admin)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    found = await client.get("/api/global-search", params={"q": payload}, headers=creds.admin)
    assert found.status_code in (200, 422), found.text
    assert "Alpha" not in found.text
    assert (await client.get("/api/customers", headers=creds.admin)).json()["total"] == 2


# --- (b) oversized and malformed bodies, per surface ----------------------------------------

# One POST route per surface, with the credential it takes.
SURFACE_POSTS = [
    ("/api/v1/domains", "token"),
    ("/api/admin/providers", "admin"),
    ("/api/customers", "admin"),
    ("/api/license/verify", "api_key"),
    ("/api/tokens", "admin"),
]
MALFORMED_JSON = [
    b'{"name": ',
    b'{"name": "x",}',
    b"[1, 2",
    b"{'name': 'x'}",
    b"nul",
    b"{}}",
    b"[" * 100_000,  # nested deeper than any parser goes
    b'{"name": "\xff\xfe"}',  # not UTF-8
]


def _headers(creds: Credentials, kind: str) -> dict[str, str]:
    return {**getattr(creds, kind), "Content-Type": "application/json"}


@pytest.mark.parametrize(("path", "credential"), SURFACE_POSTS)
async def test_oversized_and_malformed_bodies(
    path: str, credential: str, client: httpx.AsyncClient, creds: Credentials
) -> None:
    headers = _headers(creds, credential)
    # Declared too large: refused before it is read.
    declared = await client.post(path, content=b" " * (MAX_BODY_BYTES + 1), headers=headers)
    assert assert_envelope(declared, 413)["code"].lower() == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // (1024 * 1024) + 1):
            yield b" " * (1024 * 1024)

    # Streamed without a length: refused once the limit is passed.
    streamed = await client.post(path, content=chunks(), headers=headers)
    assert assert_envelope(streamed, 413)["code"].lower() == "payload_too_large"
    for malformed in MALFORMED_JSON:
        response = await client.post(path, content=malformed, headers=headers)
        body = assert_envelope(response, 422)
        assert body["code"].lower() == "validation_error"
        assert body.get("field") is None, body  # about the body, not about a field


# --- (c) internationalised domain names -----------------------------------------------------

HOMOGRAPHS_AND_INVALID = [
    "pаypal.com",  # Cyrillic а among Latin letters
    "xn--pypal-4ve.com",  # the same, in punycode
    "аррӏе.com",  # only Cyrillic look-alikes under .com
    "gοogle.com",  # Greek omicron
    "☃.com",  # not allowed in IDNA 2008
    "ab--cd.com",  # hyphens in the 3rd and 4th position
    "a\u200db.com",  # zero-width joiner out of context
    "xn--zz.com",  # not valid punycode
    "\u202eexample.com",  # right-to-left override
    "bad_label.com",
]


async def test_redirect_domains_store_punycode_and_refuse_homographs(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    for name, stored in [
        ("Bücher.DE", "xn--bcher-kva.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("東京.jp", "xn--1lqs71d.jp"),
    ]:
        created = await client.post(
            "/api/v1/domains",
            json={"domain": name, "target_url": f"https://shop.{name}/start"},
            headers=creds.token,
        )
        assert created.status_code == 201, created.text
        domain = created.json()["domain"]
        assert domain["domain"] == stored
        assert domain["target_url"] == f"https://shop.{stored}/start"
        shown = await client.get(f"/api/v1/domains/{domain['id']}", headers=creds.token)
        assert shown.json()["domain"]["domain"] == stored
    for name in HOMOGRAPHS_AND_INVALID:
        refused = await client.post(
            "/api/v1/domains",
            json={"domain": name, "target_url": "https://example.com"},
            headers=creds.token,
        )
        assert assert_envelope(refused, 422)["field"] == "domain", name
        target = await client.post(
            "/api/v1/domains",
            json={"domain": "fine-name.de", "target_url": f"https://{name}/"},
            headers=creds.token,
        )
        assert target.status_code == 422, (name, target.text)


async def test_registrar_domains_are_checked_as_punycode_and_refuse_homographs(
    client: httpx.AsyncClient, creds: Credentials
) -> None:
    async with provider_sandboxes():
        checked = await client.post(
            "/api/registrar/domains/check",
            json={"domains": ["Bücher-Shop.de", "xn--mnchen-3ya.de"]},
            headers=creds.admin,
        )
        assert checked.status_code == 200, checked.text
        names = [d["domain"] for d in checked.json()["domains"]]
        assert names == ["xn--bcher-shop-9db.de", "xn--mnchen-3ya.de"]
        for name in HOMOGRAPHS_AND_INVALID:
            refused = await client.post(
                "/api/registrar/domains/check", json={"domains": [name]}, headers=creds.admin
            )
            assert assert_envelope(refused, 422)["field"] == "domains", name


# --- (d) path traversal in path parameters ----------------------------------------------------

TRAVERSALS = [
    "%2e%2e",
    ".%2e",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fcanary.txt",
    "..%5c..%5ccanary.txt",
    "%2fetc%2fpasswd",
    "v2_dashboard%2f..%2f..%2f..%2fcanary.txt",
    "%252e%252e%252fcanary.txt",
    "a%00b",
    "~root",
]
# Path parameters that name a module, instance, license key, zone or domain, with the credential.
NAMED_PATHS = [
    ("GET", "/api/modules/{}", "admin"),
    ("POST", "/api/install/{}", "admin"),
    ("GET", "/modules/primary/{}", "admin"),
    ("GET", "/modules/instance/{}/default", "admin"),
    ("GET", "/modules/instance/v2_dashboard/{}", "admin"),
    ("DELETE", "/modules/instance/v2_dashboard/{}", "admin"),
    ("POST", "/modules/primary/v2_dashboard/{}", "admin"),
    ("DELETE", "/repository/uninstall/{}", "admin"),
    ("GET", "/api/license/info/{}", "api_key"),
    ("GET", "/api/license/file/{}", "api_key"),
    ("GET", "/api/registrar/domains/{}", "admin"),
    ("GET", "/api/dns/zones/{}/records", "admin"),
    ("DELETE", "/api/dns/zones/{}", "admin"),
    ("GET", "/api/resources/{}", "admin"),
    ("GET", "/leads/api/notes/{}/versions", "admin"),
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def test_path_traversal_reaches_no_file(
    client: httpx.AsyncClient, creds: Credentials, runtime: Runtime
) -> None:
    data_dir = runtime.settings.data_dir
    canary = data_dir.parent / "canary.txt"
    canary.write_text("canary-secret-outside-the-data-dir")
    outside = _files(data_dir.parent) - _files(data_dir)
    for method, template, credential in NAMED_PATHS:
        for attempt in TRAVERSALS:
            response = await client.request(
                method, template.format(attempt), headers=getattr(creds, credential)
            )
            assert_envelope(response, (404, 422))
            assert "canary-secret" not in response.text
            assert "root:" not in response.text
    assert canary.read_text() == "canary-secret-outside-the-data-dir"
    assert _files(data_dir.parent) - _files(data_dir) == outside


# --- (e) SSRF: every URL Stellwerk fetches goes through the guard -----------------------------


@dataclass
class Loopback:
    url: str
    requests: list[str]


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """A loopback server: `/redirect` sends to the metadata address, `/health` answers 200."""
    seen: list[str] = []

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        seen.append(path)
        if path.startswith("/redirect"):
            return 302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""
        return json_answer({"tag_name": "v99.0.0"})

    with loopback_server(answer) as url:
        yield Loopback(url, seen)


UNSAFE_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
]


async def test_release_feed_is_fetched_through_the_guard(
    client: httpx.AsyncClient, runtime: Runtime, loopback: Loopback
) -> None:
    settings_ = runtime.settings
    before = settings_.release_feed_url
    try:
        for url in [*UNSAFE_URLS, f"{loopback.url}/redirect"]:
            settings_.release_feed_url = url
            version.clear_cache()
            started = time.monotonic()
            body = (await client.get("/api/v1/version")).json()
            # Refused before connecting: no timeout was waited for.
            assert time.monotonic() - started < 2.5, url
            assert body["update_available"] is False, url
        assert loopback.requests == ["/redirect"]
        settings_.release_feed_url = f"{loopback.url}/feed"
        version.clear_cache()
        assert (await client.get("/api/v1/version")).json()["latest"] == "99.0.0"
    finally:
        settings_.release_feed_url = before
        version.clear_cache()


async def test_project_health_check_is_fetched_through_the_guard(loopback: Loopback) -> None:
    for url in UNSAFE_URLS:
        problem = await check_health(url.replace("http://", "https://"), allow_http=False)
        assert problem is not None
        assert any(word in problem for word in ("metadata", "link-local", "unicast")), problem
    redirected = await check_health(f"{loopback.url}/redirect", allow_http=True)
    assert redirected is not None
    assert "metadata" in redirected
    assert loopback.requests == ["/redirect"]
    plain = await check_health(f"{loopback.url}/health", allow_http=False)
    assert plain is not None
    assert "http" in plain
    assert await check_health(f"{loopback.url}/health", allow_http=True) is None


# --- (f) how credentials are stored -----------------------------------------------------------


async def _rows(runtime: Runtime, table: str) -> list[dict[str, Any]]:
    async with runtime.database.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


async def test_passwords_are_argon2id_with_documented_parameters(
    client: httpx.AsyncClient, runtime: Runtime, creds: Credentials
) -> None:
    password = "a-long-password-for-hashing"
    created = await client.post(
        "/api/admin/users",
        json={"username": "hash-check", "password": password},
        headers=creds.admin,
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/auth/login", json={"username": "hash-check", "password": password}
    )
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": password, "new_password": "another-long-password"},
        headers=bearer(login.json()["access_token"]),
    )
    assert changed.status_code in (200, 204), changed.text
    (row,) = [r for r in await _rows(runtime, "users") if r["username"] == "hash-check"]
    assert password not in json.dumps(row, default=str)
    assert "another-long-password" not in json.dumps(row, default=str)
    parameters = argon2.extract_parameters(row["password_hash"])
    assert parameters.type is argon2.Type.ID
    # docs/security.md: 64 MiB, 3 passes, 4 lanes.
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        64 * 1024,
        3,
        4,
    )
    assert argon2.PasswordHasher().verify(row["password_hash"], "another-long-password")


async def test_tokens_and_keys_are_stored_only_as_hashes(
    client: httpx.AsyncClient, runtime: Runtime, creds: Credentials
) -> None:
    created = await client.post(
        "/api/tokens", json={"name": "ci", "scopes": ["read:domains"]}, headers=creds.admin
    )
    token = created.json()["token"]
    rotated = await client.post("/api/admin/api-key/rotate", headers=creds.admin)
    api_key = rotated.json()["api_key"]
    login = await client.post(
        "/api/auth/login", json={"username": "nobody-here", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401
    stored = {
        table: await _rows(runtime, table)
        for table in ("api_tokens", "system_api_keys", "audit_events")
    }
    dump = json.dumps(stored, default=str)
    for secret in (token, api_key):
        assert secret not in dump
        assert secret[8:] not in dump  # no tail of it either
    digest = hashlib.sha256(token.encode()).hexdigest()
    (token_row,) = [r for r in stored["api_tokens"] if r["name"] == "ci"]
    assert token_row["token_hash"] == digest
    assert token.startswith(token_row["prefix"])
    assert len(token_row["prefix"]) < 16
    current = [r for r in stored["system_api_keys"] if r["is_current"]]
    assert [r["key_hash"] for r in current] == [hashlib.sha256(api_key.encode()).hexdigest()]
