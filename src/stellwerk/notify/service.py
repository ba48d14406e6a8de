"""Announcing events and configuring who hears of them.

`notifier.emit(session, event, data)` records the event in the caller's transaction, with one
delivery per subscribed webhook endpoint and one for the event's e-mail recipients; once the
transaction commits, each delivery is handed to its durable workflow (`notify.delivery`). A
`key` announces a state once, however often it is seen.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.database import after_commit
from stellwerk.exceptions import NotFound, ValidationFailed
from stellwerk.keyfile import derive_key, load_or_create_master_key
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.secret import seal, unseal
from stellwerk.models import (
    NotificationDelivery,
    NotificationEvent,
    NotificationRecipient,
    WebhookEndpoint,
)
from stellwerk.notify.events import EVENTS, PING
from stellwerk.notify.repository import NotifyRepository

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_PURPOSE = "webhook-secrets:v1"


def secret_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return derive_key(load_or_create_master_key(settings.data_dir, configured), SECRET_PURPOSE)


def endpoint_secret(settings: Settings, endpoint: WebhookEndpoint) -> str:
    return unseal(secret_key(settings), endpoint.secret_encrypted)


def check_events(events: Sequence[str], *, field: str = "events") -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ValidationFailed(
            f"Unknown event {unknown[0]}; events are: {', '.join(EVENTS)}", field=field
        )
    return sorted(set(events))


def _hand_over(session: AsyncSession, deliveries: Sequence[NotificationDelivery]) -> None:
    ids = [d.id for d in deliveries]
    if not ids:
        return

    async def _start() -> None:
        from stellwerk.notify import delivery  # the workflows import this module

        await delivery.start(ids)

    after_commit(session, _start)


class Notifier:
    async def emit(
        self,
        session: AsyncSession,
        event: str,
        data: dict[str, Any],
        *,
        key: str | None = None,
    ) -> NotificationEvent | None:
        """Announce `event`; None when `key` was announced before."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event}")
        repository = NotifyRepository(session)
        row = NotificationEvent(id=uuid.uuid4(), event=event, key=key, data=data)
        if not await repository.add_event_once(row):
            return None
        deliveries = [
            NotificationDelivery(
                id=uuid.uuid4(),
                event_id=row.id,
                event=event,
                channel="webhook",
                endpoint_id=endpoint.id,
                recipients=[],
                status="pending",
                attempts=0,
                attempts_log=[],
            )
            for endpoint in await repository.subscribed_endpoints(event)
        ]
        emails = [r.email for r in await repository.recipients(event)]
        if emails:
            deliveries.append(
                NotificationDelivery(
                    id=uuid.uuid4(),
                    event_id=row.id,
                    event=event,
                    channel="email",
                    recipients=emails,
                    status="pending",
                    attempts=0,
                    attempts_log=[],
                )
            )
        for delivery in deliveries:
            session.add(delivery)
        await session.flush()
        _hand_over(session, deliveries)
        log.info("event announced", extra={"event": event, "deliveries": len(deliveries)})
        return row

    async def emit_detached(
        self,
        engine: AsyncEngine,
        event: str,
        data: dict[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        """Announce `event` in a unit of work of its own (for a failure whose own transaction
        rolls back)."""
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await self.emit(session, event, data, key=key)
            await session.commit()
        for callback in session.info.pop("after_commit", []):
            await callback()


notifier = Notifier()


class WebhookService:
    async def list(self, session: AsyncSession) -> Sequence[WebhookEndpoint]:
        return await NotifyRepository(session).endpoints()

    async def get(self, session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
        endpoint = await NotifyRepository(session).endpoint(endpoint_id)
        if endpoint is None:
            raise NotFound(f"No webhook endpoint with id {endpoint_id}")
        return endpoint

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        settings: Settings,
        *,
        url: str,
        events: Sequence[str],
        description: str = "",
        is_active: bool = True,
    ) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its signing secret, which is returned this once only."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        endpoint = WebhookEndpoint(
            url=url,
            description=description,
            events=check_events(events),
            secret_encrypted=seal(secret_key(settings), secret),
            is_active=is_active,
        )
        await NotifyRepository(session).add(endpoint)
        await audit.record(
            session,
            actor,
            "webhook.create",
            target_type="webhook",
            target_id=endpoint.id,
            detail={"url": url, "events": endpoint.events},
        )
        return endpoint, secret

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        endpoint: WebhookEndpoint,
        changes: dict[str, Any],
    ) -> WebhookEndpoint:
        if "events" in changes:
            changes["events"] = check_events(changes["events"])
        for name, value in changes.items():
            setattr(endpoint, name, value)
        await session.flush()
        await audit.record(
            session,
            actor,
            "webhook.update",
            target_type="webhook",
            target_id=endpoint.id,
            detail=dict(changes),
        )
        return endpoint

    async def rotate_secret(
        self, session: AsyncSession, actor: Actor, settings: Settings, endpoint: WebhookEndpoint
    ) -> str:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        endpoint.secret_encrypted = seal(secret_key(settings), secret)
        await session.flush()
        await audit.record(
            session, actor, "webhook.rotate_secret", target_type="webhook", target_id=endpoint.id
        )
        return secret

    async def delete(self, session: AsyncSession, actor: Actor, endpoint: WebhookEndpoint) -> None:
        endpoint_id, url = endpoint.id, endpoint.url
        await NotifyRepository(session).delete_endpoint(endpoint)
        await audit.record(
            session,
            actor,
            "webhook.delete",
            target_type="webhook",
            target_id=endpoint_id,
            detail={"url": url},
        )

    async def ping(
        self, session: AsyncSession, actor: Actor, endpoint: WebhookEndpoint
    ) -> NotificationDelivery:
        """Send a `webhook.ping` event to this endpoint only."""
        event = NotificationEvent(
            id=uuid.uuid4(), event=PING, data={"endpoint_id": endpoint.id, "by": actor.name}
        )
        await NotifyRepository(session).add(event)
        delivery = NotificationDelivery(
            id=uuid.uuid4(),
            event_id=event.id,
            event=PING,
            channel="webhook",
            endpoint_id=endpoint.id,
            recipients=[],
            status="pending",
            attempts=0,
            attempts_log=[],
        )
        await NotifyRepository(session).add(delivery)
        _hand_over(session, [delivery])
        return delivery

    async def deliveries(
        self,
        session: AsyncSession,
        *,
        params: PageParams,
        endpoint_id: int | None = None,
        channel: str | None = None,
        status: str | None = None,
        event: str | None = None,
    ) -> tuple[Sequence[NotificationDelivery], int]:
        return await NotifyRepository(session).deliveries(
            offset=params.offset,
            limit=params.per_page,
            endpoint_id=endpoint_id,
            channel=channel,
            status=status,
            event=event,
        )

    async def delivery(self, session: AsyncSession, delivery_id: uuid.UUID) -> NotificationDelivery:
        delivery = await NotifyRepository(session).delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"No delivery with id {delivery_id}")
        return delivery

    async def resend(
        self, session: AsyncSession, actor: Actor, delivery: NotificationDelivery
    ) -> NotificationDelivery:
        """Deliver the same event again, to the same endpoint or recipients, as a new delivery
        (the signature gets a new timestamp; the event id stays, so receivers can deduplicate)."""
        if delivery.channel == "webhook" and delivery.endpoint_id is None:
            raise NotFound("The delivery's endpoint no longer exists")
        again = NotificationDelivery(
            id=uuid.uuid4(),
            event_id=delivery.event_id,
            event=delivery.event,
            channel=delivery.channel,
            endpoint_id=delivery.endpoint_id,
            recipients=list(delivery.recipients),
            status="pending",
            attempts=0,
            attempts_log=[],
            resent_from=delivery.id,
        )
        await NotifyRepository(session).add(again)
        await audit.record(
            session,
            actor,
            "webhook.resend",
            target_type="notification_delivery",
            target_id=delivery.id,
            detail={"new_delivery_id": str(again.id), "event": delivery.event},
        )
        _hand_over(session, [again])
        return again


webhooks = WebhookService()


class RecipientService:
    async def by_event(self, session: AsyncSession) -> dict[str, list[str]]:
        """Every event with its e-mail recipients (an empty list: no e-mail)."""
        found: dict[str, list[str]] = {event: [] for event in EVENTS}
        row: NotificationRecipient
        for row in await NotifyRepository(session).recipients():
            found.setdefault(row.event, []).append(row.email)
        return found

    async def set(
        self, session: AsyncSession, actor: Actor, event: str, emails: Sequence[str]
    ) -> list[str]:
        if event not in EVENTS:
            raise NotFound(f"No event {event}")
        unique = sorted({e.strip().lower() for e in emails if e.strip()})
        await NotifyRepository(session).replace_recipients(event, unique)
        await audit.record(
            session,
            actor,
            "notifications.set_recipients",
            target_type="notification_event",
            target_id=event,
            detail={"recipients": unique},
        )
        return unique


recipients = RecipientService()
