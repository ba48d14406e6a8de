"""Pages for webhooks (endpoints, the delivery log, re-sends) and e-mail notifications."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError
from stellwerk.identity.auth import RuntimeDep
from stellwerk.kit.pagination import Page
from stellwerk.models import WebhookEndpoint
from stellwerk.notify.events import EVENTS
from stellwerk.notify.schemas import RecipientsUpdate, WebhookCreate
from stellwerk.notify.service import recipients, webhooks
from stellwerk.runtime import Runtime
from stellwerk.web import reveal
from stellwerk.web.auth import WebAdmin
from stellwerk.web.forms import field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(include_in_schema=False)

SECRET = "webhook-secret"


async def _webhooks_page(
    request: Request,
    session: SessionDep,
    *,
    page: int = 1,
    secret: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    params = page_params(page)
    deliveries, total = await webhooks.deliveries(session, params=params)
    endpoints = await webhooks.list(session)
    return render(
        request,
        "notify/webhooks.html",
        {
            "endpoints": endpoints,
            "by_id": {e.id: e for e in endpoints},
            "deliveries": deliveries,
            "page": Page.of(deliveries, total=total, params=params),
            "events": EVENTS,
            "secret": secret,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/ui/webhooks", response_class=HTMLResponse)
async def webhooks_page(
    request: Request, _: WebAdmin, session: SessionDep, runtime: RuntimeDep, page: int = 1
) -> Response:
    shown = reveal.take(request, runtime, kind=SECRET)
    secret = shown if isinstance(shown, dict) else None
    response = await _webhooks_page(request, session, page=page, secret=secret)
    return reveal.forget(response, request, path="/ui/webhooks", shown=secret is not None)


@router.post("/ui/webhooks", response_class=HTMLResponse)
async def create_webhook(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    chosen = [str(v) for v in form.getlist("events")]
    values: dict[str, object] = {
        "url": text(form, "url"),
        "description": text(form, "description"),
        "events": chosen,
    }
    try:
        body = WebhookCreate(
            url=text(form, "url"), events=chosen, description=text(form, "description")
        )
        endpoint, secret = await webhooks.create(
            session,
            subject.actor,
            runtime.settings,
            url=body.url,
            events=body.events,
            description=body.description,
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "_"
        return await _webhooks_page(
            request,
            session,
            errors={field: str(first["msg"])},
            values=values,
            status_code=422,
        )
    except StellwerkError as error:
        return await _webhooks_page(
            request, session, errors=field_errors(error), values=values, status_code=422
        )
    return _show_secret_once(request, runtime, endpoint, secret)


def _show_secret_once(
    request: Request, runtime: Runtime, endpoint: WebhookEndpoint, secret: str
) -> Response:
    """Back to the list, which shows the signing secret once (a reload shows it no more)."""
    response = RedirectResponse("/ui/webhooks", status_code=303)
    reveal.stash(
        response,
        request,
        runtime,
        kind=SECRET,
        value={"id": endpoint.id, "url": endpoint.url, "secret": secret},
        path="/ui/webhooks",
    )
    return response


@router.post("/ui/webhooks/{webhook_id:int}/secret")
async def rotate_secret(
    webhook_id: int, request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    endpoint = await webhooks.get(session, webhook_id)
    secret = await webhooks.rotate_secret(session, subject.actor, runtime.settings, endpoint)
    return _show_secret_once(request, runtime, endpoint, secret)


@router.post("/ui/webhooks/{webhook_id:int}/toggle")
async def toggle_webhook(webhook_id: int, subject: WebAdmin, session: SessionDep) -> Response:
    endpoint = await webhooks.get(session, webhook_id)
    await webhooks.update(session, subject.actor, endpoint, {"is_active": not endpoint.is_active})
    response = RedirectResponse("/ui/webhooks", status_code=303)
    flash(response, f"{endpoint.url} {'enabled' if endpoint.is_active else 'disabled'}.")
    return response


@router.post("/ui/webhooks/{webhook_id:int}/ping")
async def ping_webhook(webhook_id: int, subject: WebAdmin, session: SessionDep) -> Response:
    endpoint = await webhooks.get(session, webhook_id)
    await webhooks.ping(session, subject.actor, endpoint)
    response = RedirectResponse("/ui/webhooks", status_code=303)
    flash(response, f"Sent a test event to {endpoint.url}.")
    return response


@router.post("/ui/webhooks/{webhook_id:int}/delete")
async def delete_webhook(webhook_id: int, subject: WebAdmin, session: SessionDep) -> Response:
    endpoint = await webhooks.get(session, webhook_id)
    url = endpoint.url
    await webhooks.delete(session, subject.actor, endpoint)
    response = RedirectResponse("/ui/webhooks", status_code=303)
    flash(response, f"Removed {url}.")
    return response


@router.post("/ui/webhooks/deliveries/{delivery_id}/resend")
async def resend_delivery(
    delivery_id: uuid.UUID, subject: WebAdmin, session: SessionDep
) -> Response:
    delivery = await webhooks.delivery(session, delivery_id)
    response = RedirectResponse("/ui/webhooks", status_code=303)
    try:
        await webhooks.resend(session, subject.actor, delivery)
    except StellwerkError as error:
        flash(response, error.message)
        return response
    flash(response, f"Sending {delivery.event} again.")
    return response


@router.get("/ui/notifications", response_class=HTMLResponse)
async def notifications_page(
    request: Request, _: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    settings = runtime.settings
    return render(
        request,
        "notify/notifications.html",
        {
            "events": EVENTS,
            "recipients": await recipients.by_event(session),
            "smtp_configured": bool(settings.smtp_host and settings.smtp_from),
            "errors": {},
        },
    )


@router.post("/ui/notifications/{event}")
async def set_recipients(
    event: str, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    form = await read_form(request)
    emails = [e.strip() for e in text(form, "recipients").replace(",", "\n").splitlines()]
    response = RedirectResponse("/ui/notifications", status_code=303)
    try:
        body = RecipientsUpdate(recipients=[e for e in emails if e])
        saved = await recipients.set(session, subject.actor, event, body.recipients)
    except ValidationError as error:
        flash(response, f"{event}: {error.errors()[0]['msg']}")
        return response
    except StellwerkError as error:
        flash(response, error.message)
        return response
    flash(response, f"{event}: {len(saved)} recipient(s) saved.")
    return response
