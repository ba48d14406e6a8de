"""The INWX sandbox: DomRobot JSON-RPC at `/jsonrpc/` with a session cookie, as the real API.

- `account.login` accepts usernames and passwords beginning with `sandbox-`; a username containing
  `-2fa` has two-factor authentication (`resData.tfa = "GOOGLE-AUTH"`), unlocked with
  `account.unlock {tan}` holding the six-digit TOTP of `SANDBOX_2FA_SECRET`.
- Everything answers HTTP 200 with `{"code", "msg", "resData", "svTRID", "runtime"}`; failures
  carry codes >= 2000 (2200 authentication error, 2302 object exists, 2303 object does not
  exist, 2003/2005 parameter errors).
- `domain.transfer` answers 1001 (pending); the transfer completes `transfer_seconds` later.
- Pre-seeded: contact 12345 and a few registered domains, so the documents' examples run.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from stellwerk.provider import registry
from stellwerk.provider.sandbox.kit import (
    SANDBOX_TOKEN_PREFIX,
    JsonState,
    RateLimitStyle,
    SandboxMiddleware,
    SandboxProfile,
)

SANDBOX_2FA_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SESSION_COOKIE = "domrobot"
SEED_CONTACT_ID = int(registry.entry("inwx").sandbox.seeds["contact_id"])  # type: ignore[union-attr]
TAKEN = ("example.com", "example.de", "google.de", "inwx.de", "vrs.gmbh")
PRICES = {"de": "4.90", "com": "11.90", "net": "13.90", "org": "12.90", "eu": "5.90", "io": "39.00"}
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR", "SOA", "URL")
MESSAGES = {
    1000: "Command completed successfully",
    1001: "Command completed successfully; action pending",
    2003: "Required parameter missing",
    2005: "Parameter value syntax error",
    2200: "Authentication error",
    2302: "Object exists",
    2303: "Object does not exist",
    2304: "Object status prohibits operation",
    2400: "Command failed",
}


def transfer_seconds() -> float:
    return float(os.environ.get("STELLWERK_SANDBOX_INWX_TRANSFER_SECONDS", "3"))


def _initial() -> dict[str, Any]:
    return {
        "sessions": {},
        "contacts": {
            str(SEED_CONTACT_ID): {
                "id": SEED_CONTACT_ID,
                "roId": SEED_CONTACT_ID,
                "type": "PERSON",
                "name": "Max Mustermann",
                "org": "Firma GmbH",
                "street": "Musterstraße 1",
                "city": "Musterstadt",
                "pc": "12345",
                "cc": "DE",
                "voice": "+49.123456789",
                "email": "admin@example.com",
            }
        },
        "domains": {},
        "zones": {},
        "_counters": {"contact": SEED_CONTACT_ID + 1, "domain": 987654, "record": 123456},
    }


class Fail(Exception):
    def __init__(
        self,
        code: int,
        reason: str | None = None,
        *,
        reason_code: str | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(reason or MESSAGES.get(code, ""))
        self.code = code
        self.reason = reason
        self.reason_code = reason_code
        self.details = details


# A TAN that is wrong or used before: the answer certbot-dns-inwx#26 records, word for word.
TAN_INVALID = Fail(
    2200,
    "The confirmation code is invalid.",
    reason_code="INVALID",
    details=[{"code": "ACCOUNT_UNLOCK_FAILED", "msg": "The confirmation code is invalid"}],
)
# A call on a session that still waits for its TAN (inwx/terraform-provider-inwx#6).
UNLOCK_REQUIRED = Fail(
    2200,
    "You need to unlock your account with your mobile TAN.",
    reason_code="Error_AccountUnlockRequired",
    details=[
        {"code": "ACCOUNT_LOCKED", "msg": "You need to unlock your account with your mobile TAN"}
    ],
)
# Lists answer one page: `page` (from 1) and `pagelimit`, 20 unless asked (apidoc ch02, the
# `domain.list`/`nameserver.list`/`contact.list` parameter tables; dnscontrol and external-dns
# loop over the pages).
DEFAULT_PAGELIMIT = 20


def _page(params: dict[str, Any], items: list[Any]) -> list[Any]:
    try:
        page = max(1, int(params.get("page", 1)))
        limit = max(1, int(params.get("pagelimit", DEFAULT_PAGELIMIT)))
    except (TypeError, ValueError) as error:
        raise Fail(2005, "page and pagelimit are numbers") from error
    return items[(page - 1) * limit : page * limit]


def _require(params: dict[str, Any], *names: str) -> None:
    # A required parameter missing: EPP 2003 (RFC 5730 §3; the apidoc's parameter tables say
    # which are required).
    for name in names:
        if params.get(name) in (None, ""):
            raise Fail(2003, f"Parameter '{name}' is missing")


def _domain_name(value: Any) -> str:
    name = str(value or "").strip().lower().rstrip(".")
    labels = name.split(".")
    # A syntactically wrong value: EPP 2005 (RFC 5730 §3); labels are 1-63 characters.
    if len(labels) < 2 or not all(labels) or any(len(label) > 63 for label in labels):
        raise Fail(2005, f"Invalid domain name '{value}'")
    return name


class InwxSandbox:
    def __init__(self, state_dir: Path | None, *, totp_interval: int = 30) -> None:
        self.state = JsonState(state_dir / "inwx.json" if state_dir else None, _initial)
        self.totp = pyotp.TOTP(SANDBOX_2FA_SECRET, interval=totp_interval)

    # --- helpers -------------------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def _complete_transfers(self) -> None:
        now = time.time()
        changed = False
        for domain in self.data["domains"].values():
            if domain["status"] == "TRANSFER" and domain.get("transfer_done_at", 0) <= now:
                domain["status"] = "OK"
                changed = True
        if changed:
            self.state.save()

    def _taken(self, name: str) -> bool:
        return name in TAKEN or name in self.data["domains"]

    # --- methods -------------------------------------------------------------------------
    def account_login(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        user, password = str(params.get("user", "")), str(params.get("pass", ""))
        if not (
            user.startswith(SANDBOX_TOKEN_PREFIX) and password.startswith(SANDBOX_TOKEN_PREFIX)
        ):
            raise Fail(2200, "Invalid username or password")  # EPP 2200 authentication error
        tfa = "GOOGLE-AUTH" if "-2fa" in user else "0"
        session.update({"user": user, "unlocked": tfa == "0"})
        return {"customerId": 1, "accountId": 1, "tfa": tfa, "builddate": "2026-01-01"}

    def account_unlock(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        if not session.get("user"):
            raise Fail(2200)
        tan = params.get("tan")
        # The real API wants the code as sent by an authenticator: six digits, leading zeros kept.
        if not isinstance(tan, str) or len(tan) != 6 or not tan.isdecimal():
            raise TAN_INVALID
        # A TAN counts once: a second unlock with the code of a step already used is refused,
        # even from another session ("a mobile tan token can not be used twice",
        # oGGy990/certbot-dns-inwx#1; DNSControl/dnscontrol#848).
        current = self.totp.timecode(datetime.datetime.now())
        step = next(
            (c for c in (current, current - 1, current + 1) if self.totp.generate_otp(c) == tan),
            None,
        )
        used: dict[str, int] = self.data.setdefault("tan_steps", {})
        if step is None or step <= used.get(session["user"], -1):
            raise TAN_INVALID
        used[session["user"]] = step
        session["unlocked"] = True
        return {}

    def account_info(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        # terraform-provider-inwx provider.go calls `account.info` to see whether the session
        # works (2200 while it is locked).
        if not session.get("unlocked"):
            raise UNLOCK_REQUIRED if session.get("user") else Fail(2200, "Not logged in")
        return {"customerId": 1, "accountId": 1, "username": session["user"]}

    def account_logout(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        session.clear()
        return {}

    def domain_check(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "domain")
        names = params["domain"] if isinstance(params["domain"], list) else [params["domain"]]
        results = []
        for raw in names:
            name = _domain_name(raw)
            sld, _, tld = name.partition(".")
            premium = len(sld) <= 3
            taken = self._taken(name)
            price = "2500.00" if premium else PRICES.get(tld.rsplit(".", 1)[-1], "15.00")
            results.append(
                {
                    "domain": name,
                    "name": sld,
                    "tld": tld,
                    "avail": 0 if taken else 1,
                    "status": "registered" if taken else "free",
                    "checkmethod": "dns" if taken else "whois",
                    "price": float(price),
                    "currency": "EUR",
                    "premium": premium,
                    "checktime": 0.02,
                }
            )
        return {"domain": results}

    def _contact_id(self, params: dict[str, Any], role: str) -> int:
        value = params.get(role)
        try:
            ident = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            raise Fail(2005, f"Invalid contact id for '{role}'") from error
        # An object that does not exist: EPP 2303 (seen on nameserver.info for unknown domains,
        # stalwartlabs/dns-update#79).
        if str(ident) not in self.data["contacts"]:
            raise Fail(2303, f"Contact {ident} does not exist")
        return ident

    def domain_create(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "domain", "registrant", "admin", "tech", "billing")
        name = _domain_name(params["domain"])
        contacts = {
            r: self._contact_id(params, r) for r in ("registrant", "admin", "tech", "billing")
        }
        # An object that exists: EPP 2302 (RFC 5730 §3).
        if self._taken(name):
            raise Fail(2302, f"Domain {name} is already registered")
        period = str(params.get("period", "1Y"))
        years = int(period.rstrip("YM")) if period.rstrip("YM").isdecimal() else 1
        roid = self.state.next_id("domain")
        check = self.domain_check({"domain": name}, session)["domain"][0]
        self.data["domains"][name] = {
            "roId": roid,
            "domain": name,
            "status": "OK",
            "period": period,
            "ns": list(params.get("ns") or ["ns.inwx.de", "ns2.inwx.de"]),
            **contacts,
            "crDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "exDate": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + years * 365 * 86400)
            ),
        }
        self.state.save()
        return {"roId": roid, "id": roid, "price": check["price"], "currency": "EUR"}

    def domain_transfer(
        self, params: dict[str, Any], session: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        _require(params, "domain", "authCode", "registrant")
        name = _domain_name(params["domain"])
        registrant = self._contact_id(params, "registrant")
        if name in self.data["domains"]:
            raise Fail(2302, f"Domain {name} is already in this account")
        # An auth code is required (apidoc domain.transfer); too short to be one is a syntax error.
        if len(str(params["authCode"])) < 4:
            raise Fail(2005, "Invalid auth code")
        roid = self.state.next_id("domain")
        self.data["domains"][name] = {
            "roId": roid,
            "domain": name,
            "status": "TRANSFER",
            "transfer_done_at": time.time() + transfer_seconds(),
            "ns": list(params.get("ns") or ["ns.inwx.de", "ns2.inwx.de"]),
            "registrant": registrant,
            "admin": params.get("admin", registrant),
            "tech": params.get("tech", registrant),
            "billing": params.get("billing", registrant),
        }
        self.state.save()
        return 1001, {"roId": roid, "id": roid}

    @staticmethod
    def _public(domain: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in domain.items() if k != "transfer_done_at"}

    def domain_info(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "domain")
        self._complete_transfers()
        domain = self.data["domains"].get(_domain_name(params["domain"]))
        if domain is None:
            raise Fail(2303, "Domain not found in this account")
        return self._public(domain)

    def domain_list(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        self._complete_transfers()
        items = sorted(self.data["domains"].values(), key=lambda d: d["domain"])
        return {"count": len(items), "domain": [self._public(d) for d in _page(params, items)]}

    def contact_create(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "type", "name", "street", "city", "pc", "cc", "voice", "email")
        # Contact types PERSON, ORG, ROLE (apidoc contact.create; terraform
        # resource_domain_contact.go).
        if str(params["type"]).upper() not in ("PERSON", "ORG", "ROLE"):
            raise Fail(2005, "Invalid contact type")
        if "@" not in str(params["email"]):
            raise Fail(2005, "Invalid email")
        ident = self.state.next_id("contact")
        fields = ("type", "name", "org", "street", "city", "pc", "cc", "voice", "email")
        self.data["contacts"][str(ident)] = {
            "id": ident,
            "roId": ident,
            **{k: params[k] for k in fields if k in params},
        }
        self.state.save()
        return {"id": ident}

    def contact_info(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "id")
        contact = self.data["contacts"].get(str(params["id"]))
        if contact is None:
            raise Fail(2303, "Contact not found")
        return {"contact": contact}

    def contact_list(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        contacts = sorted(self.data["contacts"].values(), key=lambda c: int(c["id"]))
        return {"count": len(contacts), "contact": _page(params, contacts)}

    # --- nameserver ------------------------------------------------------------------------
    def _zone(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("roId") not in (None, ""):
            for zone in self.data["zones"].values():
                if str(zone["roId"]) == str(params["roId"]):
                    return zone  # type: ignore[no-any-return]
            raise Fail(2303, "Domain not found")
        _require(params, "domain")
        zone = self.data["zones"].get(_domain_name(params["domain"]))
        if zone is None:
            raise Fail(2303, "Domain not found")
        return zone  # type: ignore[no-any-return]

    def nameserver_create(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        _require(params, "domain", "type")
        name = _domain_name(params["domain"])
        # Zone types MASTER and SLAVE (apidoc nameserver.create, table 2.183).
        if str(params["type"]).upper() not in ("MASTER", "SLAVE"):
            raise Fail(2005, "Invalid nameserver type")
        if name in self.data["zones"]:
            if params.get("ignoreExisting"):
                return {"roId": self.data["zones"][name]["roId"]}
            raise Fail(2302, "Domain already exists in the nameserver")
        roid = self.state.next_id("domain")
        ns = list(params.get("ns") or ["ns.inwx.de", "ns2.inwx.de", "ns3.inwx.eu"])
        records = [
            {
                "id": self.state.next_id("record"),
                "name": name,
                "type": "SOA",
                "content": f"{ns[0]} hostmaster.inwx.de {int(time.time())} 10800 3600 604800 3600",
                "ttl": 86400,
                "prio": 0,
            }
        ]
        for server in ns:
            records.append(
                {
                    "id": self.state.next_id("record"),
                    "name": name,
                    "type": "NS",
                    "content": server,
                    "ttl": 86400,
                    "prio": 0,
                }
            )
        self.data["zones"][name] = {
            "roId": roid,
            "domain": name,
            "type": str(params["type"]).upper(),
            "ns": ns,
            "records": records,
        }
        self.state.save()
        return {"roId": roid}

    def nameserver_delete(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(params)
        del self.data["zones"][zone["domain"]]
        self.state.save()
        return {}

    def nameserver_list(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        zones = sorted(self.data["zones"].values(), key=lambda z: z["domain"])
        return {
            "count": len(zones),
            "domains": [
                {"roId": z["roId"], "domain": z["domain"], "type": z["type"]}
                for z in _page(params, zones)
            ],
        }

    def nameserver_info(self, params: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone(params)
        records = list(zone["records"])
        for key in ("type", "content", "ttl", "prio"):
            if params.get(key) not in (None, ""):
                records = [r for r in records if str(r[key]).upper() == str(params[key]).upper()]
        if params.get("name") not in (None, ""):
            wanted = self._fqdn(str(params["name"]), zone["domain"])
            records = [r for r in records if r["name"] == wanted]
        if params.get("recordId") not in (None, ""):
            records = [r for r in records if str(r["id"]) == str(params["recordId"])]
        return {
            "roId": zone["roId"],
            "domain": zone["domain"],
            "type": zone["type"],
            "count": len(records),
            "record": records,
        }

    @staticmethod
    def _fqdn(name: str, zone: str) -> str:
        name = name.strip().lower().rstrip(".")
        if name in ("", "@", zone):
            return zone
        return name if name.endswith("." + zone) else f"{name}.{zone}"

    @staticmethod
    def _validate(type_: str, content: str, ttl: Any) -> None:
        # Record types of nameserver.createRecord (apidoc, table 2.185); SOA is INWX's own. The
        # TTL floor of 60 s is the sandbox's (the apidoc names none; integrations use 300).
        if type_ not in RECORD_TYPES or type_ == "SOA":
            raise Fail(2005, f"Invalid record type '{type_}'")
        if not content:
            raise Fail(2003, "Parameter 'content' is missing")
        if type_ in ("A", "AAAA"):
            try:
                address = ipaddress.ip_address(content)
            except ValueError as error:
                raise Fail(2005, f"Invalid {type_} record content '{content}'") from error
            if address.version != (4 if type_ == "A" else 6):
                raise Fail(2005, f"Invalid {type_} record content '{content}'")
        try:
            if int(ttl) < 60:
                raise Fail(2005, "TTL must be at least 60")
        except (TypeError, ValueError) as error:
            raise Fail(2005, "Invalid TTL") from error

    def nameserver_createRecord(
        self, params: dict[str, Any], session: dict[str, Any]
    ) -> dict[str, Any]:
        zone = self._zone(params)
        _require(params, "type", "content")
        type_ = str(params["type"]).upper()
        ttl = params.get("ttl", 3600)
        self._validate(type_, str(params["content"]), ttl)
        fqdn = self._fqdn(str(params.get("name") or ""), zone["domain"])
        for record in zone["records"]:
            if (record["name"], record["type"], record["content"]) == (
                fqdn,
                type_,
                str(params["content"]),
            ):
                raise Fail(2302, "Record already exists")  # EPP 2302: the same record exists
        record = {
            "id": self.state.next_id("record"),
            "name": fqdn,
            "type": type_,
            "content": str(params["content"]),
            "ttl": int(ttl),
            "prio": int(params.get("prio", 0) or 0),
        }
        zone["records"].append(record)
        self.state.save()
        return {"id": record["id"]}

    def _record(self, record_id: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        for zone in self.data["zones"].values():
            for record in zone["records"]:
                if str(record["id"]) == str(record_id):
                    return zone, record
        raise Fail(2303, "Record not found")

    def nameserver_updateRecord(
        self, params: dict[str, Any], session: dict[str, Any]
    ) -> dict[str, Any]:
        _require(params, "id")
        ids = params["id"] if isinstance(params["id"], list) else [params["id"]]
        for record_id in ids:
            zone, record = self._record(record_id)
            # The SOA record is INWX's (dnscontrol skips it): EPP 2304, status prohibits.
            if record["type"] == "SOA":
                raise Fail(2304, "The SOA record is managed by INWX")
            type_ = str(params.get("type", record["type"])).upper()
            content = str(params.get("content", record["content"]))
            ttl = params.get("ttl", record["ttl"])
            self._validate(type_, content, ttl)
            if params.get("name") is not None:
                record["name"] = self._fqdn(str(params["name"]), zone["domain"])
            record.update({"type": type_, "content": content, "ttl": int(ttl)})
            if params.get("prio") is not None:
                record["prio"] = int(params["prio"])
        self.state.save()
        return {}

    def nameserver_deleteRecord(
        self, params: dict[str, Any], session: dict[str, Any]
    ) -> dict[str, Any]:
        _require(params, "id")
        zone, record = self._record(params["id"])
        zone["records"].remove(record)
        self.state.save()
        return {}

    # --- dispatch ----------------------------------------------------------------------------
    def handler(self, method: str) -> Callable[[dict[str, Any], dict[str, Any]], Any] | None:
        return getattr(self, method.replace(".", "_"), None)

    async def jsonrpc(self, request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        sid = request.cookies.get(SESSION_COOKIE)
        sessions: dict[str, Any] = self.data["sessions"]
        session = sessions.get(sid or "")
        new_sid: str | None = None
        if session is None:
            sid, new_sid = None, secrets.token_hex(16)
            session = {}
        code, res_data, reason = 1000, None, None
        failure: Fail | None = None
        method = payload.get("method") if isinstance(payload, dict) else None
        params = payload.get("params") if isinstance(payload, dict) else None
        try:
            # A request that is no call, or an unknown method: EPP 2400, command failed.
            if not isinstance(method, str) or not isinstance(params, dict | None):
                raise Fail(2400, "Invalid request")
            handler = self.handler(method)
            if handler is None:
                raise Fail(2400, f"Unknown method {method}")
            if not method.startswith("account.") and not session.get("unlocked"):
                raise UNLOCK_REQUIRED if session.get("user") else Fail(2200, "Not logged in")
            result = handler(dict(params or {}), session)
            if isinstance(result, tuple):
                code, res_data = result
            else:
                res_data = result
        except Fail as fail:
            code, reason, failure = fail.code, fail.reason, fail
        if session:
            sessions[sid or new_sid or ""] = session
        elif sid in sessions:
            del sessions[sid or ""]
        self.state.save()
        body: dict[str, Any] = {
            "code": code,
            "msg": MESSAGES.get(code, "Command failed"),
            "svTRID": f"{time.strftime('%Y%m%d')}-{uuid.uuid4().hex[:10]}",
            "runtime": round(time.perf_counter() - started, 4),
        }
        if reason:
            body["reason"] = reason
            body["reasonCode"] = (failure.reason_code if failure else None) or f"E{code}"
        if failure is not None and failure.details:
            body["details"] = failure.details
        if res_data is not None and code < 2000:
            body["resData"] = res_data
        response = JSONResponse(body)
        if new_sid and session:
            response.set_cookie(SESSION_COOKIE, new_sid, httponly=True, path="/")
        return response


def _error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"code": 2502 if status == 429 else 2400, "msg": message}


# INWX documents no request limit: everything answers HTTP 200. The sandbox still has one (20
# a second) so clients meet a limit at all; it answers HTTP 429 with EPP's 2502 "session limit
# exceeded" (RFC 5730 §3), which the client maps to RATE_LIMIT_EXCEEDED.
PROFILE = SandboxProfile(
    name="inwx",
    error_body=_error_body,
    rate_limit=20,
    rate_window=1.0,
    style=RateLimitStyle(limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining", reset=None),
    bearer_auth=False,
    rate_limited_message="Session limit exceeded",
)


def create_app(state_dir: Path | None, *, totp_interval: int = 30) -> ASGIApp:
    sandbox = InwxSandbox(state_dir, totp_interval=totp_interval)
    app = Starlette(
        routes=[
            Route("/jsonrpc/", sandbox.jsonrpc, methods=["POST"]),
            Route("/jsonrpc", sandbox.jsonrpc, methods=["POST"]),
        ]
    )
    middleware = SandboxMiddleware(app, profile=PROFILE, state=sandbox.state, sandbox=sandbox)
    return middleware
