"""All SQL for webhook endpoints, announced events, their deliveries and e-mail recipients."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.kit.query import paginate
from stellwerk.models import (
    NotificationDelivery,
    NotificationEvent,
    NotificationRecipient,
    WebhookEndpoint,
)


class NotifyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Endpoints
    async def endpoints(self) -> Sequence[WebhookEndpoint]:
        return (
            await self.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
        ).all()

    async def endpoint(self, endpoint_id: int) -> WebhookEndpoint | None:
        return await self.session.get(WebhookEndpoint, endpoint_id)

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.session.delete(endpoint)
        await self.session.flush()

    async def subscribed_endpoints(self, event: str) -> list[WebhookEndpoint]:
        rows = await self.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.is_active.is_(True))
        )
        return [endpoint for endpoint in rows if event in endpoint.events]

    # Events
    async def event(self, event_id: uuid.UUID) -> NotificationEvent | None:
        return await self.session.get(NotificationEvent, event_id)

    async def event_by_key(self, key: str) -> NotificationEvent | None:
        return await self.session.scalar(
            select(NotificationEvent).where(NotificationEvent.key == key)
        )

    async def add_event_once(self, row: NotificationEvent) -> bool:
        """Insert the event; False when one with the same key exists (announced before)."""
        if row.key is None:
            await self.add(row)
            return True
        if await self.event_by_key(row.key) is not None:
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # Deliveries
    async def delivery(self, delivery_id: uuid.UUID) -> NotificationDelivery | None:
        return await self.session.get(NotificationDelivery, delivery_id)

    async def deliveries(
        self,
        *,
        offset: int,
        limit: int,
        endpoint_id: int | None = None,
        channel: str | None = None,
        status: str | None = None,
        event: str | None = None,
    ) -> tuple[Sequence[NotificationDelivery], int]:
        statement = select(NotificationDelivery).order_by(
            NotificationDelivery.created_at.desc(), NotificationDelivery.id
        )
        if endpoint_id is not None:
            statement = statement.where(NotificationDelivery.endpoint_id == endpoint_id)
        if channel is not None:
            statement = statement.where(NotificationDelivery.channel == channel)
        if status is not None:
            statement = statement.where(NotificationDelivery.status == status)
        if event is not None:
            statement = statement.where(NotificationDelivery.event == event)
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def stale_pending(self, before: dt.datetime, *, limit: int = 200) -> Sequence[uuid.UUID]:
        """Pending deliveries created before `before` (their workflow may never have started)."""
        rows = await self.session.scalars(
            select(NotificationDelivery.id)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.created_at < before,
            )
            .order_by(NotificationDelivery.created_at)
            .limit(limit)
        )
        return rows.all()

    # E-mail recipients
    async def recipients(self, event: str | None = None) -> Sequence[NotificationRecipient]:
        statement = select(NotificationRecipient).order_by(
            NotificationRecipient.event, NotificationRecipient.email
        )
        if event is not None:
            statement = statement.where(NotificationRecipient.event == event)
        return (await self.session.scalars(statement)).all()

    async def replace_recipients(self, event: str, emails: Sequence[str]) -> None:
        await self.session.execute(
            delete(NotificationRecipient).where(NotificationRecipient.event == event)
        )
        for email in emails:
            self.session.add(NotificationRecipient(event=event, email=email))
        await self.session.flush()
