"""PowerDNS Authoritative's HTTP API as a self-hosted `DnsProvider`.

PowerDNS knows record *sets* (name + type, one TTL, several contents), not records with ids, so a
record's id here is derived from its name, type and value (`rrset_record_id`). Creating a record
adds a value to its set, updating replaces one value, deleting removes one (and the set with its
last value). A set has one TTL: the TTL given for one record applies to its whole set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.budget import Budget, token_fingerprint
from stellwerk.provider.check import Probe, Report, Target, clock, new_report, refused
from stellwerk.provider.dns.base import (
    APEX,
    DEFAULT_TTL,
    PRIORITY_TYPES,
    DnsRecord,
    DnsZone,
    absolute_name,
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
    MISSING_CREDENTIALS,
    NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.http import ProviderHttp
from stellwerk.provider.registry import Endpoint

PROVIDER = "powerdns"
HOST_TYPES = frozenset({"CNAME", "MX", "NS", "SRV", "PTR"})


def map_error(response: httpx.Response) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("error") if isinstance(body, dict) else "") or response.text[:200]
    status = response.status_code
    code = {
        400: VALIDATION_ERROR,
        401: INVALID_CREDENTIALS,
        403: INVALID_CREDENTIALS,
        404: NOT_FOUND,
        409: CONFLICT,
        422: VALIDATION_ERROR,
        429: RATE_LIMIT_EXCEEDED,
    }.get(status, API_ERROR)
    return ProviderError(
        code, message or f"PowerDNS answered HTTP {status}", provider=PROVIDER, original=body
    )


def to_wire(type_: str, content: str, priority: int | None) -> str:
    """Our content (+ priority) → PowerDNS's presentation form."""
    if type_ == "TXT":
        return quote_txt(content)
    if type_ in HOST_TYPES:
        target = content if content.endswith(".") else f"{content}."
        if type_ == "SRV":
            # weight port target
            parts = content.split()
            if len(parts) == 3 and not parts[2].endswith("."):
                parts[2] = f"{parts[2]}."
            target = " ".join(parts)
        if type_ in PRIORITY_TYPES:
            return f"{priority or 0} {target}"
        return target
    return content


def from_wire(type_: str, wire: str) -> tuple[str, int | None]:
    """PowerDNS's presentation form → our content and priority."""
    if type_ == "TXT":
        return unquote_txt(wire), None
    if type_ in PRIORITY_TYPES:
        prio, _, rest = wire.partition(" ")
        return rest.rstrip("."), int(prio) if prio.isdecimal() else None
    if type_ in HOST_TYPES:
        return wire.rstrip("."), None
    return wire, None


class PowerDnsProvider:
    name = PROVIDER

    def __init__(
        self,
        *,
        api_url: str | None,
        api_key: str | None,
        server_id: str = "localhost",
        default_nameservers: Sequence[str] = (),
        budget: Budget | None = None,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_url or not api_key:
            raise ProviderError(
                MISSING_CREDENTIALS, "PowerDNS needs an API URL and an API key", provider=PROVIDER
            )
        base = api_url.rstrip("/")
        if not base.endswith("/api/v1"):
            base = f"{base}/api/v1"
        self.default_nameservers = tuple(default_nameservers)
        self.http = ProviderHttp(
            provider=PROVIDER,
            base_url=f"{base}/servers/{quote(server_id, safe='')}",
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            map_error=map_error,
            budget=budget,
            budget_key=(PROVIDER, token_fingerprint(api_key)),
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _zone_path(zone: str) -> str:
        return f"/zones/{quote(normalize_zone(zone) + '.', safe='.')}"

    async def list_zones(self) -> list[DnsZone]:
        response = await self.http.request("GET", "/zones")
        return [
            DnsZone(name=normalize_zone(z["name"]), id=str(z["id"]), kind=z.get("kind"))
            for z in response.json()
        ]

    async def get_zone(self, *, zone: str) -> DnsZone:
        data = (
            await self.http.request("GET", self._zone_path(zone), params={"rrsets": "false"})
        ).json()
        return DnsZone(name=normalize_zone(data["name"]), id=str(data["id"]), kind=data.get("kind"))

    async def create_zone(self, *, zone: str, nameservers: Sequence[str] = ()) -> DnsZone:
        zone = normalize_zone(zone)
        servers = [
            n if n.endswith(".") else f"{n}." for n in (nameservers or self.default_nameservers)
        ]
        if not servers:
            servers = [f"ns1.{zone}."]
        response = await self.http.request(
            "POST",
            "/zones",
            json={"name": f"{zone}.", "kind": "Native", "nameservers": servers},
            idempotent=False,
        )
        data = response.json()
        return DnsZone(name=zone, id=str(data["id"]), kind=data.get("kind"))

    async def delete_zone(self, *, zone: str) -> None:
        await self.http.request("DELETE", self._zone_path(zone))

    async def _rrsets(self, zone: str) -> list[Mapping[str, Any]]:
        data = (await self.http.request("GET", self._zone_path(zone))).json()
        return list(data.get("rrsets") or [])

    def _records(self, zone: str, rrset: Mapping[str, Any]) -> list[DnsRecord]:
        type_ = str(rrset["type"]).upper()
        name = relative_name(str(rrset["name"]), zone)
        records = []
        for item in rrset.get("records") or []:
            content, priority = from_wire(type_, str(item["content"]))
            records.append(
                DnsRecord(
                    id=rrset_record_id(name, type_, content, priority),
                    zone=zone,
                    name=name,
                    type=type_,
                    content=content,
                    ttl=int(rrset.get("ttl", DEFAULT_TTL)),
                    priority=priority,
                )
            )
        return records

    async def list_records(
        self, *, zone: str, name: str | None = None, type: str | None = None
    ) -> list[DnsRecord]:
        zone = normalize_zone(zone)
        wanted_name = relative_name(name, zone) if name is not None else None
        records: list[DnsRecord] = []
        for rrset in await self._rrsets(zone):
            if rrset["type"] == "SOA":
                continue
            for record in self._records(zone, rrset):
                if wanted_name is not None and record.name != wanted_name:
                    continue
                if type and record.type != type.upper():
                    continue
                records.append(record)
        return records

    async def _patch(
        self, zone: str, name: str, type_: str, ttl: int, records: Sequence[DnsRecord]
    ) -> None:
        rrset: dict[str, Any] = {"name": absolute_name(name, zone), "type": type_}
        if records:
            rrset.update(
                changetype="REPLACE",
                ttl=ttl,
                records=[
                    {"content": to_wire(type_, r.content, r.priority), "disabled": False}
                    for r in records
                ],
            )
        else:
            rrset["changetype"] = "DELETE"
        # REPLACE/DELETE of a whole set: sending it again leaves the same zone.
        await self.http.request(
            "PATCH", self._zone_path(zone), json={"rrsets": [rrset]}, idempotent=True
        )

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
        normalized, _ = from_wire(type_, to_wire(type_, content, priority))
        record = DnsRecord(
            id=rrset_record_id(
                relative, type_, normalized, (priority or 0) if type_ in PRIORITY_TYPES else None
            ),
            zone=zone,
            name=relative,
            type=type_,
            content=normalized,
            ttl=ttl,
            priority=(priority or 0) if type_ in PRIORITY_TYPES else None,
        )
        existing = await self.list_records(zone=zone, name=relative, type=type_)
        if any(r.id == record.id for r in existing):
            raise ProviderError(
                CONFLICT, f"{record.fqdn} {type_} {normalized} exists", provider=PROVIDER
            )
        await self._patch(zone, relative, type_, ttl, [*existing, record])
        return record

    async def _find(self, zone: str, record_id: str) -> tuple[DnsRecord, list[DnsRecord]]:
        try:
            name, type_, _content, _priority = parse_rrset_record_id(record_id)
        except ValueError as error:
            raise ProviderError(
                NOT_FOUND, f"No record {record_id} in {zone}", provider=PROVIDER
            ) from error
        siblings = await self.list_records(zone=zone, name=name or APEX, type=type_)
        for record in siblings:
            if record.id == record_id:
                return record, siblings
        raise ProviderError(NOT_FOUND, f"No record {record_id} in {zone}", provider=PROVIDER)

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
        current, siblings = await self._find(zone, record_id)
        new_content = current.content if content is None else content
        new_priority = current.priority if priority is None else priority
        normalized, _ = from_wire(current.type, to_wire(current.type, new_content, new_priority))
        updated = DnsRecord(
            id=rrset_record_id(current.name, current.type, normalized, new_priority),
            zone=zone,
            name=current.name,
            type=current.type,
            content=normalized,
            ttl=current.ttl if ttl is None else ttl,
            priority=new_priority,
        )
        others = [r for r in siblings if r.id not in (current.id, updated.id)]
        await self._patch(zone, current.name, current.type, updated.ttl, [*others, updated])
        return updated

    async def delete_record(self, *, zone: str, record_id: str) -> None:
        zone = normalize_zone(zone)
        current, siblings = await self._find(zone, record_id)
        others = [r for r in siblings if r.id != current.id]
        await self._patch(zone, current.name, current.type, current.ttl, others)


def open_dns(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> PowerDnsProvider:
    """PowerDNS at `POWERDNS_API_URL` with `POWERDNS_API_KEY` (it has no sandbox)."""
    key = settings.powerdns_api_key
    return PowerDnsProvider(
        api_url=endpoint.url,
        api_key=None if key is None else key.get_secret_value(),
        server_id=settings.powerdns_server_id,
        default_nameservers=[
            n.strip() for n in settings.powerdns_nameservers.split(",") if n.strip()
        ],
        budget=Budget(limiter, registry.budget_limits(PROVIDER)),
    )


async def check(target: Target) -> Report:
    """PowerDNS: the API key and the server id (`GET /api/v1/servers/{id}`)."""
    report = new_report(target)
    key = target.credentials.get("token") or ""
    server_id = target.credentials.get("server_id") or "localhost"
    base = target.url.rstrip("/")
    base = base if base.endswith("/api/v1") else f"{base}/api/v1"
    async with Probe(report, base_url=base, headers={"X-API-Key": key}) as probe:
        answer = await probe.request("GET", f"/servers/{quote(server_id, safe='')}")
        if answer is None:
            return report
        if answer.status_code in (401, 403):
            refused(report, answer.status_code, "Set POWERDNS_API_KEY to the server's api-key")
        elif answer.status_code == 404:
            report.fail(
                f"PowerDNS has no server {server_id!r}",
                "Set POWERDNS_SERVER_ID (usually localhost)",
            )
        elif not answer.is_success:
            report.fail(f"PowerDNS answered HTTP {answer.status_code}")
        else:
            data = answer.json()
            report.ok(f"PowerDNS {data.get('version', '')} ({data.get('daemon_type', 'server')})")
    clock(report)
    return report
