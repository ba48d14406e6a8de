"""Redirect factories: domains through the service, hits through the real writer path."""

from __future__ import annotations

import itertools
from typing import Any

from stellwerk.audit.actor import Actor
from stellwerk.models import RedirectDomain, User
from stellwerk.redirect import service
from stellwerk.redirect.repository import HitRepository, HitRow
from stellwerk.runtime import Runtime

_counter = itertools.count(1)


def unique_domain(prefix: str = "alt") -> str:
    return f"{prefix}-{next(_counter)}.example"


async def create_domain(
    runtime: Runtime,
    owner: User,
    *,
    domain: str | None = None,
    target_url: str = "https://www.firma.example",
    status: str | None = None,
    **options: Any,
) -> RedirectDomain:
    async with runtime.database.session() as session:
        record = await service.domain.create(
            session,
            Actor.system(),
            owner,
            domain=domain or unique_domain(),
            target_url=target_url,
            **options,
        )
        if status is not None:
            record.status = status
            await session.flush()
    return record


def hit_row(domain_id: int | None, *, ts: int, country: str | None = "DE", **fields: Any) -> HitRow:
    values: dict[str, Any] = {
        "domain_id": domain_id,
        "host": "x.example",
        "ts": ts,
        "ip_hash": "0" * 64,
        "country": country,
        "user_agent": "Mozilla/5.0",
        "referer": None,
        "path": "/",
        "is_bot": False,
    }
    values.update(fields)
    return HitRow(**values)


async def write_hits(runtime: Runtime, rows: list[HitRow]) -> None:
    async with runtime.database.session() as session:
        await HitRepository(session).write_batch(rows)
