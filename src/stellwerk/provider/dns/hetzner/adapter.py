"""Hetzner DNS through the Cloud API's zones and rrsets (`/v1/zones`), over `ProviderHttp`.

Hetzner knows record sets, not records: a record's id is derived from name, type and value
(`rrset_record_id`), creating adds a value to its set (`add_records`), updating swaps one value
(`set_records`), deleting removes one (`remove_records`). Values are stored in zone-file form:
host names end with a dot, TXT is quoted, MX and SRV carry their priority first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.action import Backoff
from stellwerk.provider.budget import Budget, token_fingerprint
from stellwerk.provider.dns.base import (
    APEX,
    DEFAULT_TTL,
    DnsRecord,
    DnsZone,
    normalize_zone,
    parse_rrset_record_id,
    quote_txt,
    relative_name,
    rrset_record_id,
    unquote_txt,
)
from stellwerk.provider.error import (
    API_ERROR,
    CONFLICT,
    INVALID_CREDENTIALS,
    NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.http import ProviderHttp
from stellwerk.provider.registry import SANDBOX_SECRET, Endpoint

PROVIDER = "hetzner"
DEFAULT_BASE_URL = "https://api.hetzner.cloud/v1"
HOST_TYPES = frozenset({"CNAME", "NS"})
CODES = {
    "unauthorized": INVALID_CREDENTIALS,
    "forbidden": INVALID_CREDENTIALS,
    "invalid_input": VALIDATION_ERROR,
    "json_error": VALIDATION_ERROR,
    "not_found": NOT_FOUND,
    "uniqueness_error": CONFLICT,
    "conflict": CONFLICT,
    "locked": CONFLICT,
    "protected": CONFLICT,
    "rate_limit_exceeded": RATE_LIMIT_EXCEEDED,
}
MAX_PAGES = 100


def map_error(response: httpx.Response) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = (body.get("error") if isinstance(body, dict) else None) or {}
    code = str(error.get("code", ""))
    normalized = CODES.get(code, API_ERROR)
    if response.status_code == 401:
        normalized = INVALID_CREDENTIALS
    fields = (error.get("details") or {}).get("fields") or []
    field = fields[0].get("name") if fields and isinstance(fields[0], dict) else None
    return ProviderError(
        normalized,
        str(error.get("message") or f"Hetzner answered {response.status_code}"),
        provider=PROVIDER,
        field=field,
        original=body,
        retryable=code == "locked",  # another action runs on the zone: it passes
    )


def to_value(type_: str, content: str, priority: int | None) -> str:
    if type_ in HOST_TYPES:
        return f"{content.rstrip('.')}."
    if type_ == "MX":
        return f"{priority if priority is not None else 10} {content.rstrip('.')}."
    if type_ == "SRV":
        weight, port, target = content.split(None, 2)
        return f"{priority if priority is not None else 0} {weight} {port} {target.rstrip('.')}."
    if type_ == "TXT":
        return quote_txt(content)
    return content


def from_value(type_: str, value: str) -> tuple[str, int | None]:
    if type_ in HOST_TYPES:
        return value.rstrip("."), None
    if type_ == "MX":
        priority, host = value.split(None, 1)
        return host.rstrip("."), int(priority)
    if type_ == "SRV":
        priority, weight, port, target = value.split(None, 3)
        return f"{weight} {port} {target.rstrip('.')}", int(priority)
    if type_ == "TXT":
        return unquote_txt(value), None
    return value, None


class HetznerDns:
    name = PROVIDER

    def __init__(
        self,
        *,
        token: str,
        limiter: RateLimiter,
        base_url: str | None = None,
        budgets: dict[str, tuple[str, ...]] | None = None,
        max_attempts: int = 4,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = (budgets or {}).get(PROVIDER) or registry.budget_limits(PROVIDER)
        self.http = ProviderHttp(
            provider=PROVIDER,
            base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "stellwerk"},
            map_error=map_error,
            budget=Budget(limiter, limits),
            budget_key=(PROVIDER, token_fingerprint(token)),
            timeout=30.0,
            max_attempts=max_attempts,
            backoff=backoff,
            transport=transport,
            refill_per_second=registry.entry(PROVIDER).refill_per_second,
        )

    async def _collect(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        for _ in range(MAX_PAGES):
            response = await self.http.request(
                "GET", path, params={**params, "page": page, "per_page": 50}, timeout=15.0
            )
            body = response.json()
            items.extend(body.get(key) or [])
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if not pagination.get("next_page"):
                break
            page = int(pagination["next_page"])
        return items

    @staticmethod
    def _zone(item: dict[str, Any]) -> DnsZone:
        return DnsZone(
            name=normalize_zone(str(item["name"])), id=str(item["id"]), kind=item.get("mode")
        )

    async def list_zones(self) -> list[DnsZone]:
        return [self._zone(z) for z in await self._collect("/zones", "zones")]

    async def get_zone(self, *, zone: str) -> DnsZone:
        response = await self.http.request("GET", f"/zones/{normalize_zone(zone)}")
        return self._zone(response.json()["zone"])

    async def create_zone(self, *, zone: str, nameservers: Sequence[str] = ()) -> DnsZone:
        body: dict[str, Any] = {"name": normalize_zone(zone), "mode": "primary", "ttl": DEFAULT_TTL}
        response = await self.http.request("POST", "/zones", json=body, idempotent=False)
        return self._zone(response.json()["zone"])

    async def delete_zone(self, *, zone: str) -> None:
        await self.http.request("DELETE", f"/zones/{normalize_zone(zone)}")

    def _records(self, zone: str, rrset: dict[str, Any], default_ttl: int) -> list[DnsRecord]:
        type_ = str(rrset["type"])
        name = relative_name(str(rrset["name"]), zone)
        ttl = int(rrset.get("ttl") or default_ttl)
        records = []
        for record in rrset.get("records") or []:
            content, priority = from_value(type_, str(record["value"]))
            records.append(
                DnsRecord(
                    id=rrset_record_id(name, type_, content, priority),
                    zone=zone,
                    name=name,
                    type=type_,
                    content=content,
                    ttl=ttl,
                    priority=priority,
                )
            )
        return records

    async def list_records(
        self, *, zone: str, name: str | None = None, type: str | None = None
    ) -> list[DnsRecord]:
        zone = normalize_zone(zone)
        found = await self.get_zone(zone=zone)
        params: dict[str, Any] = {}
        if name is not None:
            params["name"] = relative_name(name, zone)
        if type is not None:
            params["type"] = type.upper()
        rrsets = await self._collect(f"/zones/{found.name}/rrsets", "rrsets", **params)
        records: list[DnsRecord] = []
        for rrset in rrsets:
            if rrset["type"] == "SOA":
                continue
            records.extend(self._records(zone, rrset, DEFAULT_TTL))
        return records

    def _rrset_path(self, zone: str, name: str, type_: str) -> str:
        return f"/zones/{zone}/rrsets/{name}/{type_}"

    async def create_record(
        self,
        *,
        zone: str,
        name: str,
        type: str,
        content: str,
        ttl: int = DEFAULT_TTL,
        priority: int | None = None,
    ) -> DnsRecord:
        zone = normalize_zone(zone)
        type_ = type.upper()
        relative = relative_name(name, zone)
        value = to_value(type_, content, priority)
        existing = await self.list_records(zone=zone, name=relative, type=type_)
        canonical, canonical_priority = from_value(type_, value)
        record_id = rrset_record_id(relative, type_, canonical, canonical_priority)
        if any(r.id == record_id for r in existing):
            raise ProviderError(CONFLICT, "The record exists", provider=PROVIDER)
        path = self._rrset_path(zone, relative, type_)
        # A value joining a set keeps the set's TTL (Hetzner refuses another one); the set has
        # one TTL, so the TTL asked for then applies to the whole set, as with PowerDNS.
        body = {"records": [{"value": value}], "ttl": existing[0].ttl if existing else ttl}
        await self.http.request(
            "POST",
            f"{path}/actions/add_records",
            json=body,
            idempotent=True,  # adding a value that is there already changes nothing
        )
        if existing and existing[0].ttl != ttl:
            await self.http.request(
                "POST", f"{path}/actions/change_ttl", json={"ttl": ttl}, idempotent=True
            )
        return DnsRecord(
            id=record_id,
            zone=zone,
            name=relative,
            type=type_,
            content=canonical,
            ttl=ttl,
            priority=canonical_priority,
        )

    async def _find(self, zone: str, record_id: str) -> DnsRecord:
        try:
            name, type_, content, priority = parse_rrset_record_id(record_id)
        except ValueError as error:
            raise ProviderError(NOT_FOUND, str(error), provider=PROVIDER) from error
        for record in await self.list_records(zone=zone, name=name, type=type_):
            if (record.content, record.priority) == (content, priority):
                return record
        raise ProviderError(NOT_FOUND, "No such record", provider=PROVIDER)

    async def update_record(
        self,
        *,
        zone: str,
        record_id: str,
        content: str | None = None,
        ttl: int | None = None,
        priority: int | None = None,
    ) -> DnsRecord:
        zone = normalize_zone(zone)
        record = await self._find(zone, record_id)
        siblings = await self.list_records(zone=zone, name=record.name, type=record.type)
        new_content = content if content is not None else record.content
        new_priority = priority if priority is not None else record.priority
        new_value = to_value(record.type, new_content, new_priority)
        values = [
            new_value if s.id == record.id else to_value(s.type, s.content, s.priority)
            for s in siblings
        ]
        path = self._rrset_path(zone, record.name, record.type)
        await self.http.request(
            "POST",
            f"{path}/actions/set_records",
            json={"records": [{"value": v} for v in dict.fromkeys(values)]},
            idempotent=True,
        )
        if ttl is not None and ttl != record.ttl:
            await self.http.request(
                "POST", f"{path}/actions/change_ttl", json={"ttl": ttl}, idempotent=True
            )
        canonical, canonical_priority = from_value(record.type, new_value)
        return DnsRecord(
            id=rrset_record_id(record.name, record.type, canonical, canonical_priority),
            zone=zone,
            name=record.name,
            type=record.type,
            content=canonical,
            ttl=ttl if ttl is not None else record.ttl,
            priority=canonical_priority,
        )

    async def delete_record(self, *, zone: str, record_id: str) -> None:
        zone = normalize_zone(zone)
        record = await self._find(zone, record_id)
        await self.http.request(
            "POST",
            f"{self._rrset_path(zone, record.name, record.type)}/actions/remove_records",
            json={"records": [{"value": to_value(record.type, record.content, record.priority)}]},
            idempotent=True,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["APEX", "HetznerDns"]


def open_dns(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> HetznerDns:
    """Hetzner DNS with `HETZNER_API_TOKEN` at `HETZNER_DNS_API_URL` (or the sandbox)."""
    token = (
        SANDBOX_SECRET
        if endpoint.sandbox or settings.hetzner_api_token is None
        else settings.hetzner_api_token.get_secret_value()
    )
    return HetznerDns(token=token, limiter=limiter, base_url=endpoint.url)
