"""HTTP for webhooks and e-mail notifications (admins)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from stellwerk.database import SessionDep
from stellwerk.identity.auth import AdminUser, RuntimeDep
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.notify.events import EVENTS
from stellwerk.notify.schemas import (
    DeliveryRead,
    EventRecipients,
    NotificationSettings,
    RecipientsUpdate,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)
from stellwerk.notify.service import recipients, webhooks
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["notifications"], responses=error_responses(Surface.GENERIC))
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("/api/admin/webhooks", response_model=list[WebhookRead])
async def list_webhooks(_: AdminUser, session: SessionDep) -> list[WebhookRead]:
    """Every webhook endpoint (secrets are never shown again)."""
    return [WebhookRead.model_validate(e) for e in await webhooks.list(session)]


@router.post(
    "/api/admin/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED
)
async def create_webhook(
    body: WebhookCreate, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> WebhookCreated:
    """Add an endpoint. The answer carries its signing secret: the only time it is shown."""
    endpoint, secret = await webhooks.create(
        session,
        subject.actor,
        runtime.settings,
        url=body.url,
        events=body.events,
        description=body.description,
        is_active=body.is_active,
    )
    return WebhookCreated(**WebhookRead.model_validate(endpoint).model_dump(), secret=secret)


@router.get("/api/admin/webhooks/deliveries", response_model=Page[DeliveryRead])
async def list_deliveries(
    _: AdminUser,
    session: SessionDep,
    params: PageDep,
    endpoint_id: int | None = None,
    channel: Literal["webhook", "email"] | None = None,
    delivery_status: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    event: Annotated[str | None, Query(max_length=60)] = None,
) -> Page[DeliveryRead]:
    """The delivery log, newest first: webhooks and e-mails, each with its tries."""
    rows, total = await webhooks.deliveries(
        session,
        params=params,
        endpoint_id=endpoint_id,
        channel=channel,
        status=delivery_status,
        event=event,
    )
    return Page.of([DeliveryRead.model_validate(r) for r in rows], total=total, params=params)


@router.get("/api/admin/webhooks/deliveries/{delivery_id}", response_model=DeliveryRead)
async def get_delivery(_: AdminUser, session: SessionDep, delivery_id: uuid.UUID) -> DeliveryRead:
    return DeliveryRead.model_validate(await webhooks.delivery(session, delivery_id))


@router.post(
    "/api/admin/webhooks/deliveries/{delivery_id}/resend",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def resend_delivery(
    subject: AdminUser, session: SessionDep, delivery_id: uuid.UUID
) -> DeliveryRead:
    """Deliver the same event again as a new delivery (same event id, a fresh signature)."""
    delivery = await webhooks.delivery(session, delivery_id)
    again = await webhooks.resend(session, subject.actor, delivery)
    return DeliveryRead.model_validate(again)


@router.get("/api/admin/webhooks/{webhook_id:int}", response_model=WebhookRead)
async def get_webhook(_: AdminUser, session: SessionDep, webhook_id: int) -> WebhookRead:
    return WebhookRead.model_validate(await webhooks.get(session, webhook_id))


@router.put("/api/admin/webhooks/{webhook_id:int}", response_model=WebhookRead)
async def update_webhook(
    body: WebhookUpdate, subject: AdminUser, session: SessionDep, webhook_id: int
) -> WebhookRead:
    """Change the URL, the events, the description or whether it is active (fields left out
    stay as they are)."""
    endpoint = await webhooks.get(session, webhook_id)
    changes = body.model_dump(exclude_none=True)
    return WebhookRead.model_validate(
        await webhooks.update(session, subject.actor, endpoint, changes)
    )


@router.delete("/api/admin/webhooks/{webhook_id:int}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(subject: AdminUser, session: SessionDep, webhook_id: int) -> Response:
    """Remove the endpoint with its delivery log."""
    endpoint = await webhooks.get(session, webhook_id)
    await webhooks.delete(session, subject.actor, endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/admin/webhooks/{webhook_id:int}/secret", response_model=WebhookSecret)
async def rotate_webhook_secret(
    subject: AdminUser, session: SessionDep, runtime: RuntimeDep, webhook_id: int
) -> WebhookSecret:
    """A new signing secret, shown this once; the old one signs nothing from now on."""
    endpoint = await webhooks.get(session, webhook_id)
    secret = await webhooks.rotate_secret(session, subject.actor, runtime.settings, endpoint)
    return WebhookSecret(id=endpoint.id, secret=secret)


@router.post(
    "/api/admin/webhooks/{webhook_id:int}/ping",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def ping_webhook(subject: AdminUser, session: SessionDep, webhook_id: int) -> DeliveryRead:
    """Send a `webhook.ping` event to this endpoint; follow it in the delivery log."""
    endpoint = await webhooks.get(session, webhook_id)
    return DeliveryRead.model_validate(await webhooks.ping(session, subject.actor, endpoint))


@router.get("/api/admin/notifications", response_model=NotificationSettings)
async def notification_settings(
    _: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> NotificationSettings:
    """Every event with the addresses that receive it by e-mail."""
    found = await recipients.by_event(session)
    settings = runtime.settings
    return NotificationSettings(
        smtp_configured=bool(settings.smtp_host and settings.smtp_from),
        events=[
            EventRecipients(event=name, description=EVENTS[name], recipients=found.get(name, []))
            for name in EVENTS
        ],
    )


@router.put("/api/admin/notifications/{event}", response_model=EventRecipients)
async def set_notification_recipients(
    body: RecipientsUpdate, subject: AdminUser, session: SessionDep, event: str
) -> EventRecipients:
    """Who gets an e-mail for `event` (replaces the list; empty: no one)."""
    emails = await recipients.set(session, subject.actor, event, body.recipients)
    return EventRecipients(event=event, description=EVENTS[event], recipients=emails)
