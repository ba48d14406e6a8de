"""Recording changes. Details are scrubbed of anything that looks like a secret."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.repository import AuditRepository
from stellwerk.kit.pagination import PageParams
from stellwerk.models import AuditEvent

_SECRET_MARKERS = ("password", "token", "secret", "api_key", "apikey", "key_hash", "auth_code")


def scrub(detail: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in detail.items():
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            clean[key] = "***"
        elif isinstance(value, dict):
            clean[key] = scrub(value)
        else:
            clean[key] = value
    return clean


class AuditService:
    async def record(
        self,
        session: AsyncSession,
        actor: Actor,
        action: str,
        *,
        target_type: str | None = None,
        target_id: object = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await AuditRepository(session).add(
            AuditEvent(
                actor_user_id=actor.user_id,
                actor_name=actor.name,
                credential=actor.credential,
                action=action,
                target_type=target_type,
                target_id=None if target_id is None else str(target_id),
                detail=scrub(detail or {}),
                ip=actor.ip,
            )
        )

    async def list(
        self,
        session: AsyncSession,
        *,
        params: PageParams,
        action: str | None = None,
        actor_user_id: int | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: dt.datetime | None = None,
    ) -> tuple[Sequence[AuditEvent], int]:
        return await AuditRepository(session).list(
            offset=params.offset,
            limit=params.per_page,
            action=action,
            actor_user_id=actor_user_id,
            target_type=target_type,
            target_id=target_id,
            since=since,
        )


audit = AuditService()
