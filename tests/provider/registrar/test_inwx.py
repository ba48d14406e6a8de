"""INWX specifics: login and 2FA, session expiry, error codes, and the official client
(`inwx-domrobot`) against the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from INWX.Domrobot import ApiClient, ApiType

from stellwerk.provider.dns.inwx.adapter import InwxDns
from stellwerk.provider.error import (
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    NOT_FOUND,
    ProviderError,
)
from stellwerk.provider.registrar.inwx.adapter import (
    InwxClient,
    InwxRegistrar,
    error_for_code,
    totp_code,
)
from stellwerk.provider.registrar.inwx.sandbox import SANDBOX_2FA_SECRET, create_app
from stellwerk.provider.sandbox.kit import RunningSandbox, start_server


async def test_wrong_password_is_invalid_credentials(inwx_sandbox: RunningSandbox) -> None:
    client = InwxClient(username="sandbox-user", password="wrong", api_url=inwx_sandbox.url)
    with pytest.raises(ProviderError) as caught:
        await client.call("domain.check", {"domain": "x.de"})
    assert caught.value.code == INVALID_CREDENTIALS
    assert "wrong" not in str(caught.value.original)
    await client.aclose()


def test_missing_credentials() -> None:
    with pytest.raises(ProviderError) as caught:
        InwxClient(username=None, password=None)
    assert caught.value.code == MISSING_CREDENTIALS


async def test_two_factor_login(inwx_sandbox: RunningSandbox) -> None:
    client = InwxClient(
        username="sandbox-user-2fa",
        password="sandbox-password",
        otp_secret=SANDBOX_2FA_SECRET,
        api_url=inwx_sandbox.url,
    )
    registrar = InwxRegistrar(client)
    assert (await registrar.get_contact(contact_id="12345")).id == "12345"
    await registrar.aclose()
    without = InwxClient(
        username="sandbox-other-2fa", password="sandbox-password", api_url=inwx_sandbox.url
    )
    with pytest.raises(ProviderError) as caught:
        await without.login()
    assert caught.value.code == MISSING_CREDENTIALS
    await without.aclose()


def test_totp_code_keeps_leading_zeros() -> None:
    for _ in range(5):
        code = totp_code(SANDBOX_2FA_SECRET)
        assert len(code) == 6
        assert code.isdigit()


async def test_session_expiry_logs_in_again(inwx_sandbox: RunningSandbox) -> None:
    client = InwxClient(username="sandbox-user", password="sandbox-pass", api_url=inwx_sandbox.url)
    await client.call("contact.info", {"id": 12345})
    # The sandbox forgets every session (as INWX does after 30 idle minutes).
    inwx_sandbox.server.config.app.sandbox.data["sessions"].clear()
    data = await client.res_data("contact.info", {"id": 12345})
    assert data["contact"]["id"] == 12345
    await client.aclose()


async def test_codes_at_or_above_2000_raise(inwx_sandbox: RunningSandbox) -> None:
    client = InwxClient(username="sandbox-user", password="sandbox-pass", api_url=inwx_sandbox.url)
    with pytest.raises(ProviderError) as caught:
        await client.call("contact.info", {"id": 999})
    assert caught.value.code == NOT_FOUND
    assert caught.value.original["code"] == 2303
    await client.aclose()


def test_code_mapping() -> None:
    assert error_for_code("x", {"code": 2302, "msg": "Object exists"}).code == "CONFLICT"
    assert error_for_code("x", {"code": 2005, "msg": "syntax"}).code == "VALIDATION_ERROR"
    assert error_for_code("x", {"code": 2104, "msg": "billing"}).code == "INSUFFICIENT_RESOURCES"
    assert error_for_code("x", {"code": 2502, "msg": "limit"}).code == "RATE_LIMIT_EXCEEDED"
    assert error_for_code("x", {"code": 2400, "msg": "failed"}).transient
    assert not error_for_code("x", {"code": 2302, "msg": "exists"}).transient


async def test_timeout_is_an_api_error(inwx_sandbox: RunningSandbox) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{inwx_sandbox.url}/__sandbox__/faults",
            json={"kind": "timeout", "count": 5, "delay": 2},
        )
    client = InwxClient(
        username="sandbox-user",
        password="sandbox-pass",
        api_url=inwx_sandbox.url,
        timeout=0.3,
        max_attempts=2,
    )
    client.http.backoff = lambda _n: 0.0
    with pytest.raises(ProviderError) as caught:
        await client.login()
    assert caught.value.code == "API_ERROR"
    await client.aclose()


async def test_read_retried_after_server_error(inwx_sandbox: RunningSandbox) -> None:
    client = InwxClient(username="sandbox-user", password="sandbox-pass", api_url=inwx_sandbox.url)
    client.http.backoff = lambda _n: 0.0
    await client.login()
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{inwx_sandbox.url}/__sandbox__/faults",
            json={"kind": "status", "count": 1, "status": 502},
        )
    data = await client.res_data("contact.info", {"id": 12345})
    assert data["contact"]["id"] == 12345
    await client.aclose()


# --- fidelity: the official client against the sandbox ------------------------------------


def _official(url: str) -> ApiClient:
    return ApiClient(api_url=url, api_type=ApiType.JSON_RPC)


def _official_flow(url: str) -> dict[str, object]:
    api = _official(url)
    login = api.login("sandbox-user", "sandbox-password")
    check = api.call_api("domain.check", {"domain": "demo-shop.de"})
    create = api.call_api(
        "domain.create",
        {
            "domain": "demo-shop.de",
            "registrant": 12345,
            "admin": 12345,
            "tech": 12345,
            "billing": 12345,
        },
    )
    transfer = api.call_api(
        "domain.transfer", {"domain": "other.de", "authCode": "ABC123XYZ", "registrant": 12345}
    )
    zone = api.call_api("nameserver.create", {"domain": "demo-shop.de", "type": "MASTER"})
    record = api.call_api(
        "nameserver.createRecord",
        {"domain": "demo-shop.de", "type": "A", "content": "1.2.3.4", "name": "", "ttl": 300},
    )
    update = api.call_api(
        "nameserver.updateRecord", {"id": record["resData"]["id"], "content": "5.6.7.8", "ttl": 600}
    )
    info = api.call_api("nameserver.info", {"domain": "demo-shop.de"})
    contact = api.call_api(
        "contact.create",
        {
            "type": "PERSON",
            "name": "Max Mustermann",
            "org": "Firma GmbH",
            "street": "Musterstraße 1",
            "city": "Musterstadt",
            "pc": "12345",
            "cc": "DE",
            "voice": "+49.123456789",
            "email": "admin@example.com",
        },
    )
    delete = api.call_api("nameserver.deleteRecord", {"id": record["resData"]["id"]})
    missing = api.call_api("domain.info", {"domain": "nowhere.de"})
    logout = api.logout()
    after = api.call_api("domain.check", {"domain": "x.de"})
    return locals()


async def test_official_client_gets_the_documented_shapes(inwx_sandbox: RunningSandbox) -> None:
    result = await asyncio.to_thread(_official_flow, inwx_sandbox.url)
    assert result["login"]["code"] == 1000
    assert result["login"]["resData"]["tfa"] == "0"
    (checked,) = result["check"]["resData"]["domain"]
    assert checked["domain"] == "demo-shop.de"
    assert checked["avail"]
    assert {"price", "currency", "premium"} <= set(checked)
    assert result["create"]["code"] == 1000
    assert isinstance(result["create"]["resData"]["id"], int)
    assert result["transfer"]["code"] == 1001
    assert result["zone"]["code"] == 1000
    assert "roId" in result["zone"]["resData"]
    assert isinstance(result["record"]["resData"]["id"], int)
    assert result["update"]["code"] == 1000
    records = {r["id"]: r for r in result["info"]["resData"]["record"]}
    updated = records[result["record"]["resData"]["id"]]
    assert {k: updated[k] for k in ("type", "name", "content", "ttl")} == {
        "type": "A",
        "name": "demo-shop.de",
        "content": "5.6.7.8",
        "ttl": 600,
    }
    assert {"id", "name", "type", "content", "ttl", "prio"} <= set(updated)
    assert isinstance(result["contact"]["resData"]["id"], int)
    assert result["delete"]["code"] == 1000
    assert result["missing"]["code"] == 2303
    assert "resData" not in result["missing"]
    assert result["logout"]["code"] == 1000
    assert result["after"]["code"] == 2200
    for key in ("login", "check", "create", "info"):
        assert {"code", "msg", "svTRID", "runtime"} <= set(result[key])


def _official_2fa(url: str, shared_secret: str | None, tfa_token: str | None) -> int:
    api = _official(url)
    api.login("sandbox-user-2fa", "sandbox-password", shared_secret, tfa_token)
    return int(api.call_api("contact.info", {"id": 12345})["code"])


async def test_official_client_2fa_with_padded_token(inwx_sandbox: RunningSandbox) -> None:
    token = totp_code(SANDBOX_2FA_SECRET)
    assert await asyncio.to_thread(_official_2fa, inwx_sandbox.url, None, token) == 1000


async def test_parallel_callers_stay_within_the_budget(inwx_sandbox: RunningSandbox) -> None:
    from stellwerk.kit.ratelimit import RateLimiter
    from stellwerk.provider.budget import Budget

    budget = Budget(RateLimiter(None), ("5/second",))
    clients = [
        InwxClient(
            username="sandbox-shared",
            password="sandbox-password",
            api_url=inwx_sandbox.url,
            budget=budget,
        )
        for _ in range(10)
    ]
    await asyncio.gather(*(c.res_data("contact.info", {"id": 12345}) for c in clients))
    async with httpx.AsyncClient() as http:
        log = (await http.get(f"{inwx_sandbox.url}/__sandbox__/requests")).json()["requests"]
    times = sorted(r["at"] for r in log)
    assert len(times) == 11  # one login the clients share, and a call per client
    # The budget counts when a request is sent; the sandbox sees it a moment later, so the
    # window measured there is allowed a few milliseconds of transit.
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t - start < 0.95]
        assert len(in_window) <= 5
    for client in clients:
        await client.aclose()


# --- 2FA: a TAN counts once -------------------------------------------------------------------


@pytest_asyncio.fixture
async def fast_totp_sandbox() -> AsyncIterator[RunningSandbox]:
    """The INWX sandbox with 2-second TOTP steps, so waiting for the next code is quick."""
    sandbox = await start_server(create_app(None, totp_interval=2), name="inwx")
    yield sandbox
    await sandbox.stop()


def _two_factor(url: str, *, interval: int = 30) -> InwxClient:
    return InwxClient(
        username="sandbox-user-2fa",
        password="sandbox-password",
        otp_secret=SANDBOX_2FA_SECRET,
        api_url=url,
        totp_interval=interval,
    )


async def _unlocks(sandbox: RunningSandbox) -> int:
    async with httpx.AsyncClient() as http:
        log = (await http.get(f"{sandbox.url}/__sandbox__/requests")).json()["requests"]
    return len(log)


async def test_the_sandbox_refuses_a_reused_tan_in_inwxs_words(
    inwx_sandbox: RunningSandbox,
) -> None:
    tan = totp_code(SANDBOX_2FA_SECRET)
    answers = []
    for _ in range(2):
        async with httpx.AsyncClient(base_url=inwx_sandbox.url) as http:
            login = {"user": "sandbox-user-2fa", "pass": "sandbox-password"}
            await http.post("/jsonrpc/", json={"method": "account.login", "params": login})
            unlock = {"method": "account.unlock", "params": {"tan": tan}}
            answers.append((await http.post("/jsonrpc/", json=unlock)).json())
    assert answers[0]["code"] == 1000
    assert answers[1]["code"] == 2200
    assert answers[1]["reasonCode"] == "INVALID"
    assert answers[1]["reason"] == "The confirmation code is invalid."


async def test_adapter_contexts_back_to_back_share_one_login(
    inwx_sandbox: RunningSandbox,
) -> None:
    """The project flow opens the registrar, then DNS, seconds apart: one login and one TAN,
    not a second unlock that INWX refuses within the same 30-second step."""
    for _ in range(3):
        registrar = InwxRegistrar(_two_factor(inwx_sandbox.url))
        assert (await registrar.get_contact(contact_id="12345")).id == "12345"
        await registrar.aclose()
    state = inwx_sandbox.server.config.app.sandbox.data
    assert len(state["tan_steps"]) == 1


async def test_a_session_that_expired_logs_in_again_with_the_next_tan(
    fast_totp_sandbox: RunningSandbox,
) -> None:
    client = _two_factor(fast_totp_sandbox.url, interval=2)
    await client.call("contact.info", {"id": 12345})
    fast_totp_sandbox.server.config.app.sandbox.data["sessions"].clear()
    data = await client.res_data("contact.info", {"id": 12345})
    assert data["contact"]["id"] == 12345
    await client.aclose()


async def test_a_tan_another_process_used_is_followed_by_the_next_one(
    fast_totp_sandbox: RunningSandbox,
) -> None:
    tan = totp_code(SANDBOX_2FA_SECRET, interval=2)
    async with httpx.AsyncClient(base_url=fast_totp_sandbox.url) as http:
        login = {"user": "sandbox-user-2fa", "pass": "sandbox-password"}
        await http.post("/jsonrpc/", json={"method": "account.login", "params": login})
        unlocked = await http.post(
            "/jsonrpc/", json={"method": "account.unlock", "params": {"tan": tan}}
        )
    assert unlocked.json()["code"] == 1000
    client = _two_factor(fast_totp_sandbox.url, interval=2)
    data = await client.res_data("contact.info", {"id": 12345})
    assert data["contact"]["id"] == 12345
    await client.aclose()


# --- error codes and lists --------------------------------------------------------------------


def test_epp_command_errors_are_not_credential_verdicts() -> None:
    """2001 is a command syntax error, 2002 a command use error, 2100 an unimplemented protocol
    version (RFC 5730 §3): none says the login is wrong, locked or the object missing."""
    assert error_for_code("x", {"code": 2001, "msg": "syntax"}).code == "VALIDATION_ERROR"
    assert error_for_code("x", {"code": 2002, "msg": "use"}).code == "INVALID_ACTION"
    assert error_for_code("x", {"code": 2100, "msg": "version"}).code == "API_ERROR"
    assert not error_for_code("x", {"code": 2100, "msg": "version"}).transient


async def test_zone_and_contact_lists_read_every_page(inwx_sandbox: RunningSandbox) -> None:
    state = inwx_sandbox.server.config.app.sandbox.data
    for index in range(1005):  # more than any one page holds
        name = f"zone{index:04}.example"
        state["zones"][name] = {"roId": 5000 + index, "domain": name, "type": "MASTER"}
        state["contacts"][str(70000 + index)] = {"id": 70000 + index, "name": f"C {index}"}
    client = InwxClient(username="sandbox-user", password="sandbox-pass", api_url=inwx_sandbox.url)
    zones = await InwxDns(client).list_zones()
    contacts = await InwxRegistrar(client).list_contacts()
    assert len(zones) == 1005
    assert len(contacts) == 1006  # the seeded 12345 and the 1005 above
    await client.aclose()
