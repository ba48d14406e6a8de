"""INWX DomRobot over JSON-RPC: the small client and the `Registrar` adapter.

The official `inwx-domrobot` client has three defects we fix here rather than wrap:
it sets no HTTP timeout, never raises on API codes >= 2000, and computes the 2FA code as an int
that loses its leading zeros. This client keeps the session cookie (`account.login`, then
`account.unlock` with a zero-padded TOTP when the account has 2FA), logs in again once when the
session has expired, sends every call through `ProviderHttp` (budget, retries of reads on
transient failures, per-call timeouts, call log without secrets) and raises `ProviderError`
with the normalized code for every answer with a code >= 2000.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pyotp

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.budget import Budget, token_fingerprint
from stellwerk.provider.check import Probe, Report, Target, clock, new_report
from stellwerk.provider.error import (
    API_ERROR,
    CONFLICT,
    INSUFFICIENT_RESOURCES,
    INVALID_ACTION,
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    UNKNOWN_ERROR,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.http import ProviderHttp
from stellwerk.provider.registrar.base import (
    Contact,
    ContactInput,
    DomainCheck,
    DomainStatus,
    RegisteredDomain,
)
from stellwerk.provider.registry import SANDBOX_SECRET, Endpoint

PROVIDER = "inwx"
LIVE_URL = registry.INWX_LIVE_URL
OTE_URL = registry.INWX_TEST_URL
JSONRPC_PATH = "/jsonrpc/"
SESSION_COOKIE = "domrobot"
TOTP_INTERVAL = 30
# List pages: 100 items each, as external-dns asks (`nameserver.list`), at most 1000 pages.
PAGE_LIMIT = 100
MAX_PAGES = 1000

OK = 1000
PENDING = 1001

# INWX (EPP) result codes → normalized codes. Anything else >= 2000 is API_ERROR.
# EPP result codes (RFC 5730 §3), which INWX answers with.
CODE_MAP: dict[int, str] = {
    2001: VALIDATION_ERROR,  # command syntax error (our request was malformed)
    2002: INVALID_ACTION,  # command use error (the command is not allowed now)
    2003: VALIDATION_ERROR,  # required parameter missing
    2004: VALIDATION_ERROR,  # parameter value range error
    2005: VALIDATION_ERROR,  # parameter value syntax error
    2100: API_ERROR,  # unimplemented protocol version: never worth repeating as is
    2101: INVALID_ACTION,  # unimplemented command
    2104: INSUFFICIENT_RESOURCES,  # billing failure
    2200: INVALID_CREDENTIALS,  # authentication error
    2201: INVALID_CREDENTIALS,  # authorization error
    2202: INVALID_CREDENTIALS,  # invalid authorization information
    2302: CONFLICT,  # object exists
    2303: NOT_FOUND,  # object does not exist
    2304: INVALID_ACTION,  # object status prohibits operation
    2305: INVALID_ACTION,  # object association prohibits operation
    2306: VALIDATION_ERROR,  # parameter value policy error
    2308: VALIDATION_ERROR,  # data management policy violation
    2502: RATE_LIMIT_EXCEEDED,  # session limit exceeded
}
# Codes after which the same call may succeed in a moment.
TRANSIENT_API_CODES = frozenset({2400, 2500, 2501, 2502})
AUTH_EXPIRED_CODES = frozenset({2200, 2202})

# Per-call timeouts (seconds): reads are quick, purchases may take the registry a while.
SLOW_METHODS = {"domain.create": 60.0, "domain.transfer": 60.0, "contact.create": 30.0}
READ_PREFIXES = (".check", ".info", ".list", ".log")


def error_for_code(method: str, body: Mapping[str, Any]) -> ProviderError:
    code = int(body.get("code", 0))
    message = str(body.get("msg") or f"INWX answered {code}")
    reason = body.get("reason")
    if reason:
        message = f"{message}: {reason}"
    normalized = CODE_MAP.get(code, API_ERROR if code >= 2400 else UNKNOWN_ERROR)
    error = ProviderError(
        normalized,
        f"{method}: {message} ({code})",
        provider=PROVIDER,
        original={"code": code, "msg": body.get("msg"), "reason": reason},
        # INWX answers everything with HTTP 200; only its 24xx/25xx are worth a retry.
        http_status=None if code in TRANSIENT_API_CODES else 200,
    )
    return error


def _http_error(response: httpx.Response) -> ProviderError:
    return ProviderError(
        API_ERROR,
        f"INWX answered HTTP {response.status_code}",
        provider=PROVIDER,
        original=response.text[:500],
    )


def _totp(secret: str, interval: int) -> pyotp.TOTP:
    return pyotp.TOTP(secret.replace(" ", "").upper(), interval=interval)


def totp_code(secret: str, *, interval: int = TOTP_INTERVAL, step: int | None = None) -> str:
    """The 2FA code (of `step`, default now), always six digits (the official client drops
    leading zeros)."""
    try:
        totp = _totp(secret, interval)
        code = totp.now() if step is None else totp.generate_otp(step)
        return str(code).zfill(6)
    except (ValueError, TypeError) as error:  # not base32, or too short
        raise ProviderError(
            INVALID_CREDENTIALS, "INWX_2FA_SECRET is not a valid TOTP secret", provider=PROVIDER
        ) from error


@dataclass
class _Steps:
    """The TOTP step this process last unlocked with, for one user (shared by its sessions)."""

    last: int = -1


@dataclass
class _Session:
    """One INWX login per API URL and user in this process, shared by every client.

    INWX takes a TAN once: a second `account.unlock` with the code of the same 30-second step
    is refused (2200, reasonCode INVALID). Each adapter context used to log in, unlock and log
    out, so the second context within one step failed. Now the session cookie outlives the
    client, and the step last unlocked with is remembered, so a new login waits for a fresh
    code instead of reusing one."""

    cookie: str | None = None
    steps: _Steps = field(default_factory=lambda: _Steps())
    # What `account.login` said about two-factor authentication ("0" or "GOOGLE-AUTH").
    tfa: str | None = None
    # One lock per event loop (requests and workflow steps run on different loops).
    locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop not in self.locks:
            self.locks[loop] = asyncio.Lock()
        return self.locks[loop]


_SESSIONS: dict[tuple[str, str], _Session] = {}


def _session(api_url: str, username: str, *, private: bool = False) -> _Session:
    shared = _SESSIONS.setdefault((api_url, username), _Session())
    # A private session (a check's own login) still counts the user's TANs with the others.
    return _Session(steps=shared.steps) if private else shared


def _tan_refused(body: Mapping[str, Any]) -> bool:
    """INWX's answer to a wrong or reused TAN (certbot-dns-inwx#26)."""
    return int(body.get("code", 0)) == 2200 and body.get("reasonCode") == "INVALID"


class InwxClient:
    def __init__(
        self,
        *,
        username: str | None,
        password: str | None,
        otp_secret: str | None = None,
        api_url: str = LIVE_URL,
        budget: Budget | None = None,
        timeout: float = 20.0,
        max_attempts: int = 3,
        language: str = "en",
        transport: httpx.AsyncBaseTransport | None = None,
        totp_interval: int = TOTP_INTERVAL,
        private_session: bool = False,
    ) -> None:
        if not username or not password:
            raise ProviderError(
                MISSING_CREDENTIALS, "INWX needs a username and a password", provider=PROVIDER
            )
        self._username = username
        self._password = password
        self._otp_secret = otp_secret
        self._language = language
        self._totp_interval = totp_interval
        self.api_url = api_url.rstrip("/")
        self._shared = _session(self.api_url, username, private=private_session)
        self.http = ProviderHttp(
            provider=PROVIDER,
            base_url=self.api_url,
            headers={"Content-Type": "application/json; charset=UTF-8"},
            map_error=_http_error,
            budget=budget,
            budget_key=(PROVIDER, token_fingerprint(username)),
            timeout=timeout,
            max_attempts=max_attempts,
            transport=transport,
        )

    @property
    def tfa(self) -> str | None:
        """What `account.login` said about 2FA ("0" off, "GOOGLE-AUTH" on)."""
        return self._shared.tfa

    async def aclose(self) -> None:
        """Close the connections; the session stays for the next client (see `_Session`)."""
        await self.http.aclose()

    async def logout(self) -> None:
        """End the shared session at INWX (`stellwerk providers check` does, on its own)."""
        if self._shared.cookie is not None:
            with contextlib.suppress(ProviderError):
                await self._raw("account.logout", {})
        self._shared.cookie = None

    async def _raw(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        repeatable = method.endswith(READ_PREFIXES) or method.startswith("account.")
        cookie = self._shared.cookie
        response = await self.http.request(
            "POST",
            JSONRPC_PATH,
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else None,
            json={"method": method, "params": dict(params)},
            timeout=SLOW_METHODS.get(method, 20.0 if repeatable else 30.0),
            idempotent=repeatable,
        )
        # The session cookie lives in `_Session`, not in this client's jar.
        fresh = response.cookies.get(SESSION_COOKIE)
        if fresh:
            self._shared.cookie = fresh
        self.http.client.cookies.clear()
        try:
            body = response.json()
        except ValueError as error:
            raise ProviderError(
                API_ERROR, f"{method}: INWX sent no JSON", provider=PROVIDER
            ) from error
        if not isinstance(body, dict) or "code" not in body:
            raise ProviderError(API_ERROR, f"{method}: unexpected answer", provider=PROVIDER)
        return body

    async def login(self, *, expired: str | None = None) -> None:
        """Log in (and unlock with a TAN when the account has 2FA) unless this process holds a
        session already; `expired` names a session INWX no longer knows."""
        shared = self._shared
        async with shared.lock():
            if shared.cookie is not None and shared.cookie != expired:
                return
            shared.cookie = None
            try:
                body = await self._raw(
                    "account.login",
                    {"user": self._username, "pass": self._password, "lang": self._language},
                )
                if int(body["code"]) != OK:
                    raise error_for_code("account.login", body)
                shared.tfa = str((body.get("resData") or {}).get("tfa", "0"))
                if shared.tfa not in ("0", ""):
                    await self._unlock()
            except BaseException:
                shared.cookie = None
                raise

    async def _unlock(self) -> None:
        """`account.unlock` with a TAN of a step not used before; when INWX refuses the TAN
        (another process took this step's code), once more with the next step's."""
        if not self._otp_secret:
            raise ProviderError(
                MISSING_CREDENTIALS,
                "The INWX account has two-factor authentication; set INWX_2FA_SECRET",
                provider=PROVIDER,
            )
        shared = self._shared
        interval = self._totp_interval
        for attempt in range(2):
            step = int(time.time() // interval)
            if step <= shared.steps.last:
                step = shared.steps.last + 1
                await asyncio.sleep(max(0.0, step * interval - time.time()) + 0.05)
            tan = totp_code(self._otp_secret, interval=interval, step=step)
            answer = await self._raw("account.unlock", {"tan": tan})
            if int(answer["code"]) == OK:
                shared.steps.last = step
                return
            if _tan_refused(answer) and attempt == 0:
                shared.steps.last = max(shared.steps.last, step)
                continue
            raise error_for_code("account.unlock", answer)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call `method`; returns the whole answer (code 1000 or 1001), raises for >= 2000."""
        await self.login()
        cookie = self._shared.cookie
        body = await self._raw(method, params or {})
        code = int(body["code"])
        if code in AUTH_EXPIRED_CODES:
            # The session ended (INWX drops idle sessions): log in once more.
            await self.login(expired=cookie)
            body = await self._raw(method, params or {})
            code = int(body["code"])
        if code >= 2000:
            raise error_for_code(method, body)
        return body

    async def res_data(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self.call(method, params)).get("resData") or {}

    async def pages(
        self, method: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """Every item of a list method, page by page (INWX answers 20 a page unless asked;
        `count` is sometimes a string: goinwx domain.go)."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            data = await self.res_data(
                method, {**(params or {}), "page": page, "pagelimit": PAGE_LIMIT}
            )
            chunk = data.get(key) or []
            items.extend(chunk)
            if not chunk or len(items) >= int(data.get("count") or 0):
                break
        return items


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def domain_status(raw: str | None) -> DomainStatus:
    status = (raw or "").upper()
    if status in ("OK", "ACTIVE", "CLIENT HOLD", "LOCK"):
        return "active"
    if status.startswith("TRANSFER") or status in ("PENDING", "CREATE PENDING", "ORDERED"):
        return "pending"
    if "FAIL" in status or status in ("DELETED", "EXPIRED"):
        return "failed"
    return "unknown"


def _registered(data: Mapping[str, Any]) -> RegisteredDomain:
    ns = data.get("ns") or []
    roid = data.get("roId", data.get("id"))
    return RegisteredDomain(
        domain=str(data.get("domain", "")).lower(),
        id=None if roid is None else str(roid),
        status=domain_status(data.get("status")),
        nameservers=tuple(str(n) for n in ns),
        registrant=None if data.get("registrant") is None else str(data.get("registrant")),
        expires_at=None if data.get("exDate") is None else str(data.get("exDate")),
        raw_status=None if data.get("status") is None else str(data.get("status")),
    )


def _contact(data: Mapping[str, Any]) -> Contact:
    return Contact(
        id=str(data.get("id", data.get("roId", ""))),
        name=str(data.get("name", "")),
        email=data.get("email"),
        organization=data.get("org") or None,
        type=data.get("type"),
    )


class InwxRegistrar:
    name = PROVIDER

    def __init__(self, client: InwxClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    async def check(self, *, domains: Sequence[str]) -> list[DomainCheck]:
        data = await self.client.res_data("domain.check", {"domain": [d.lower() for d in domains]})
        results = []
        for item in data.get("domain") or []:
            results.append(
                DomainCheck(
                    domain=str(item.get("domain", "")).lower(),
                    available=_flag(item.get("avail")),
                    price=_decimal(item.get("price")),
                    currency=item.get("currency"),
                    premium=_flag(item.get("premium", False)),
                    status=item.get("status"),
                )
            )
        return results

    async def register(
        self,
        *,
        domain: str,
        contact_id: str,
        nameservers: Sequence[str] = (),
        period_years: int = 1,
    ) -> RegisteredDomain:
        contact = int(contact_id)
        params: dict[str, Any] = {
            "domain": domain.lower(),
            "period": f"{period_years}Y",
            "registrant": contact,
            "admin": contact,
            "tech": contact,
            "billing": contact,
        }
        if nameservers:
            params["ns"] = list(nameservers)
        body = await self.client.call("domain.create", params)
        data = body.get("resData") or {}
        return RegisteredDomain(
            domain=domain.lower(),
            id=None
            if data.get("roId", data.get("id")) is None
            else str(data.get("roId", data.get("id"))),
            status="pending" if int(body["code"]) == PENDING else "active",
            nameservers=tuple(nameservers),
            registrant=str(contact),
            raw_status=data.get("status"),
        )

    async def transfer(
        self, *, domain: str, auth_code: str, contact_id: str, nameservers: Sequence[str] = ()
    ) -> RegisteredDomain:
        contact = int(contact_id)
        params: dict[str, Any] = {
            "domain": domain.lower(),
            "authCode": auth_code,
            "registrant": contact,
            "admin": contact,
            "tech": contact,
            "billing": contact,
        }
        if nameservers:
            params["ns"] = list(nameservers)
        body = await self.client.call("domain.transfer", params)
        data = body.get("resData") or {}
        roid = data.get("roId", data.get("id"))
        return RegisteredDomain(
            domain=domain.lower(),
            id=None if roid is None else str(roid),
            status="pending" if int(body["code"]) == PENDING else "active",
            nameservers=tuple(nameservers),
            registrant=str(contact),
            raw_status=data.get("status"),
        )

    async def domain_info(self, *, domain: str) -> RegisteredDomain:
        data = await self.client.res_data("domain.info", {"domain": domain.lower()})
        return _registered({"domain": domain.lower(), **data})

    async def list_domains(self) -> list[RegisteredDomain]:
        return [_registered(item) for item in await self.client.pages("domain.list", "domain")]

    async def create_contact(self, *, contact: ContactInput) -> Contact:
        params: dict[str, Any] = {
            "type": contact.type,
            "name": contact.name,
            "street": contact.street,
            "city": contact.city,
            "pc": contact.postal_code,
            "cc": contact.country_code.upper(),
            "voice": contact.phone,
            "email": contact.email,
        }
        if contact.organization:
            params["org"] = contact.organization
        data = await self.client.res_data("contact.create", params)
        return Contact(
            id=str(data["id"]),
            name=contact.name,
            email=contact.email,
            organization=contact.organization,
            type=contact.type,
        )

    async def get_contact(self, *, contact_id: str) -> Contact:
        try:
            ident = int(contact_id)
        except ValueError as error:
            raise ProviderError(
                VALIDATION_ERROR, "An INWX contact id is a number", provider=PROVIDER, field="id"
            ) from error
        data = await self.client.res_data("contact.info", {"id": ident})
        return _contact(data.get("contact") or data)

    async def list_contacts(self) -> list[Contact]:
        return [_contact(item) for item in await self.client.pages("contact.list", "contact")]


def open_client(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> InwxClient:
    """The DomRobot client for the settings: the configured login, or the sandbox's."""
    budget = Budget(limiter, registry.budget_limits(PROVIDER))
    if endpoint.sandbox:
        return InwxClient(
            username=SANDBOX_SECRET, password=SANDBOX_SECRET, api_url=endpoint.url, budget=budget
        )
    return InwxClient(
        username=settings.inwx_username,
        password=_secret(settings.inwx_password),
        otp_secret=_secret(settings.inwx_2fa_secret),
        api_url=endpoint.url,
        budget=budget,
    )


def open_registrar(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> InwxRegistrar:
    return InwxRegistrar(open_client(settings, endpoint, limiter))


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


async def check(target: Target) -> Report:
    """INWX: log in on a session of the check's own (unlocking with a TAN when the account has
    2FA), one read (`account.info`), log out; and this host's clock, which TOTP codes need."""
    report = new_report(target)
    credentials = target.credentials
    how = (
        "Set INWX_USERNAME and INWX_PASSWORD; INWX support sets up an API sub-user (with or "
        "without 2FA) for this"
    )
    async with Probe(report, base_url=target.url, headers={}) as probe:
        await probe.request("POST", JSONRPC_PATH, json={"method": "account.info", "params": {}})
    client = InwxClient(
        username=credentials.get("username"),
        password=credentials.get("password"),
        otp_secret=credentials.get("otp_secret"),
        api_url=target.url,
        max_attempts=1,
        private_session=True,
    )
    try:
        await client.login()
        tfa = client.tfa
        if tfa in ("0", "", None):
            report.ok(f"Logged in as {credentials.get('username')}; 2FA is off for this login")
        else:
            report.ok(
                f"Logged in as {credentials.get('username')}; 2FA is on ({tfa}), unlocked with "
                "the code of INWX_2FA_SECRET"
            )
        await client.res_data("account.info")
        report.ok("The session works (account.info)")
    except ProviderError as error:
        original = error.original if isinstance(error.original, dict) else {}
        if error.code == MISSING_CREDENTIALS and "two-factor" in error.message:
            report.fail(
                "The account has 2FA on and INWX_2FA_SECRET is not set",
                "Set INWX_2FA_SECRET to the secret shown when 2FA was set up (the text under "
                "the QR code), or ask INWX support for an API sub-user without 2FA",
            )
        elif "account.unlock" in error.message:
            report.fail(
                "INWX refused the 2FA code (TAN) made from INWX_2FA_SECRET",
                "Check INWX_2FA_SECRET and this host's clock",
            )
        elif original.get("code") == 2200 or error.code == INVALID_CREDENTIALS:
            report.fail(f"INWX refused the login ({error.message})", how)
        else:
            report.fail(error.message)
    finally:
        await client.logout()
        await client.aclose()
    clock(report)
    return report
