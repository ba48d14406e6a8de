"""INWX as a `DnsProvider`: the `nameserver.*` methods on the shared DomRobot client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.dns.base import (
    APEX,
    DEFAULT_TTL,
    PRIORITY_TYPES,
    DnsRecord,
    DnsZone,
    normalize_zone,
    relative_name,
    unquote_txt,
)
from stellwerk.provider.error import NOT_FOUND, VALIDATION_ERROR, ProviderError
from stellwerk.provider.registrar.inwx.adapter import PROVIDER, InwxClient, open_client
from stellwerk.provider.registry import Endpoint

DEFAULT_NAMESERVERS = ("ns.inwx.de", "ns2.inwx.de", "ns3.inwx.eu")


def _record(zone: str, data: Mapping[str, Any]) -> DnsRecord:
    type_ = str(data.get("type", "")).upper()
    content = str(data.get("content", ""))
    if type_ == "TXT":
        content = unquote_txt(content)
    if type_ in ("CNAME", "MX", "NS", "SRV"):
        content = content.rstrip(".")
    prio = data.get("prio")
    return DnsRecord(
        id=str(data["id"]),
        zone=zone,
        name=relative_name(str(data.get("name", "")), zone),
        type=type_,
        content=content,
        ttl=int(data.get("ttl", DEFAULT_TTL)),
        priority=int(prio) if type_ in PRIORITY_TYPES and prio is not None else None,
    )


def _normalized_content(type_: str, content: str) -> str:
    if type_ == "TXT":
        return unquote_txt(content)
    if type_ in ("CNAME", "MX", "NS", "SRV"):
        return content.rstrip(".")
    return content


def _content_for_inwx(type_: str, content: str) -> str:
    # INWX stores TXT text without the quotes of the zone file form.
    return unquote_txt(content) if type_ == "TXT" else content


class InwxDns:
    name = PROVIDER

    def __init__(self, client: InwxClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_zones(self) -> list[DnsZone]:
        return [
            DnsZone(
                name=normalize_zone(str(d["domain"])), id=str(d.get("roId", "")), kind=d.get("type")
            )
            for d in await self.client.pages("nameserver.list", "domains")
        ]

    async def get_zone(self, *, zone: str) -> DnsZone:
        zone = normalize_zone(zone)
        data = await self.client.res_data("nameserver.info", {"domain": zone})
        return DnsZone(name=zone, id=str(data.get("roId", "")), kind=data.get("type"))

    async def create_zone(self, *, zone: str, nameservers: Sequence[str] = ()) -> DnsZone:
        zone = normalize_zone(zone)
        data = await self.client.res_data(
            "nameserver.create",
            {"domain": zone, "type": "MASTER", "ns": list(nameservers or DEFAULT_NAMESERVERS)},
        )
        return DnsZone(name=zone, id=str(data.get("roId", "")), kind="MASTER")

    async def delete_zone(self, *, zone: str) -> None:
        await self.client.call("nameserver.delete", {"domain": normalize_zone(zone)})

    async def list_records(
        self, *, zone: str, name: str | None = None, type: str | None = None
    ) -> list[DnsRecord]:
        zone = normalize_zone(zone)
        params: dict[str, Any] = {"domain": zone}
        if type:
            params["type"] = type.upper()
        data = await self.client.res_data("nameserver.info", params)
        records = [_record(zone, r) for r in data.get("record") or []]
        records = [r for r in records if r.type != "SOA"]
        if name is not None:
            wanted = relative_name(name, zone)
            records = [r for r in records if r.name == wanted]
        if type:
            records = [r for r in records if r.type == type.upper()]
        return records

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
        params: dict[str, Any] = {
            "domain": zone,
            "type": type_,
            "name": "" if relative == APEX else relative,
            "content": _content_for_inwx(type_, content),
            "ttl": ttl,
        }
        if type_ in PRIORITY_TYPES:
            params["prio"] = priority or 0
        data = await self.client.res_data("nameserver.createRecord", params)
        return DnsRecord(
            id=str(data["id"]),
            zone=zone,
            name=relative,
            type=type_,
            content=_normalized_content(type_, content),
            ttl=ttl,
            priority=(priority or 0) if type_ in PRIORITY_TYPES else None,
        )

    async def _find(self, zone: str, record_id: str) -> DnsRecord:
        for record in await self.list_records(zone=zone):
            if record.id == record_id:
                return record
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
        current = await self._find(zone, record_id)
        params: dict[str, Any] = {"id": _numeric(record_id)}
        if content is not None:
            params["content"] = _content_for_inwx(current.type, content)
        if ttl is not None:
            params["ttl"] = ttl
        if priority is not None and current.type in PRIORITY_TYPES:
            params["prio"] = priority
        await self.client.call("nameserver.updateRecord", params)
        return await self._find(zone, record_id)

    async def delete_record(self, *, zone: str, record_id: str) -> None:
        await self._find(normalize_zone(zone), record_id)
        await self.client.call("nameserver.deleteRecord", {"id": _numeric(record_id)})


def _numeric(record_id: str) -> int:
    try:
        return int(record_id)
    except ValueError as error:
        raise ProviderError(
            VALIDATION_ERROR, "An INWX record id is a number", provider=PROVIDER, field="id"
        ) from error


def open_dns(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> InwxDns:
    return InwxDns(open_client(settings, endpoint, limiter))
