"""Delivering an announced event: one durable workflow per delivery (its id is the delivery's).

Each try is a step that records its outcome (response code, error) on the delivery; between
tries the workflow sleeps durably, `STELLWERK_NOTIFY_RETRY_SECONDS` doubled after each failure
up to `STELLWERK_NOTIFY_RETRY_MAX_SECONDS`, for at most `STELLWERK_NOTIFY_MAX_ATTEMPTS` tries.
A process that dies mid-way resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from dbos import DBOS, SetWorkflowID

from stellwerk.config import Settings
from stellwerk.kit import smtp
from stellwerk.kit.secret import SealedSecretUnreadable
from stellwerk.kit.time import iso, utc_now
from stellwerk.models import NotificationDelivery, NotificationEvent
from stellwerk.notify import signing
from stellwerk.notify.events import EVENTS
from stellwerk.notify.repository import NotifyRepository
from stellwerk.notify.service import endpoint_secret
from stellwerk.operation import engine
from stellwerk.operation.context import StepContext, workflow_context
from stellwerk.operation.workflow import step

log = logging.getLogger(__name__)

QUEUE = "notifications"
WORKFLOW = "notify.delivery"
USER_AGENT = "Stellwerk-Webhooks/1"
MAX_LOGGED_ATTEMPTS = 50

engine.register_queue(QUEUE, worker_concurrency=8)


def body(event: NotificationEvent) -> bytes:
    """The JSON a webhook receives; the same bytes on every try (the signature covers them)."""
    payload = {
        "id": str(event.id),
        "type": event.event,
        "created_at": iso(event.created_at),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def mail_text(settings: Settings, event: NotificationEvent) -> tuple[str, str]:
    summary = str(event.data.get("summary") or EVENTS.get(event.event, event.event))
    lines = [summary, "", f"Event: {event.event}", f"When: {iso(event.created_at)}"]
    lines += [f"{k}: {v}" for k, v in sorted(event.data.items()) if k != "summary"]
    link = event.data.get("path")
    if settings.public_url and isinstance(link, str):
        lines += ["", settings.public_url.rstrip("/") + link]
    lines += ["", f"Event id: {event.id}"]
    return f"[Stellwerk] {summary}"[:250], "\n".join(lines)


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds to wait after failed try number `attempt` (1-based)."""
    return float(
        min(
            settings.notify_retry_max_seconds,
            settings.notify_retry_seconds * 2 ** min(attempt - 1, 30),
        )
    )


async def _post(
    settings: Settings, url: str, secret: str, payload: bytes, headers: dict[str, str]
) -> int:
    signed = {**headers, signing.HEADER: signing.header(secret, payload)}
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    ) as client:
        response = await client.post(url, content=payload, headers=signed)
        return response.status_code


def _smtp_server(settings: Settings) -> smtp.SmtpServer | None:
    if not settings.smtp_host or not settings.smtp_from:
        return None
    return smtp.SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.webhook_timeout_seconds,
    )


async def _send(ctx: StepContext, delivery_id: str) -> tuple[int | None, str | None, bool] | None:
    """Read what to send (the transaction ends before the network is used), then send it:
    (response code, error, whether another try may help), or None when nothing is to send."""
    settings = ctx.settings
    async with ctx.database.session() as session:
        repository = NotifyRepository(session)
        delivery = await repository.delivery(uuid.UUID(delivery_id))
        if delivery is None or delivery.status != "pending":
            return None
        event = await repository.event(delivery.event_id)
        if event is None:
            return None
        endpoint = None
        if delivery.channel == "webhook" and delivery.endpoint_id is not None:
            endpoint = await repository.endpoint(delivery.endpoint_id)
        channel, recipients = delivery.channel, list(delivery.recipients)
        payload = body(event)
        subject, text = mail_text(settings, event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Stellwerk-Event": event.event,
            "Stellwerk-Delivery": delivery_id,
        }
        try:
            secret = endpoint_secret(settings, endpoint) if endpoint is not None else None
        except SealedSecretUnreadable:
            return None, "The endpoint's secret cannot be decrypted with this master key", False
        url = endpoint.url if endpoint is not None and endpoint.is_active else None
    try:
        if channel == "webhook":
            if url is None or secret is None:
                return None, "The endpoint was removed or disabled", False
            code = await _post(settings, url, secret, payload, headers)
            return code, None if 200 <= code < 300 else f"HTTP {code}", True
        server = _smtp_server(settings)
        if server is None:
            return None, "SMTP_HOST and SMTP_FROM are not set", False
        await smtp.send(server, recipients, subject, text)
        return None, None, True
    except smtp.MailNotSent as failure:
        return None, str(failure)[:500], True
    except Exception as failure:  # any failure to reach the receiver is worth another try
        return None, f"{type(failure).__name__}: {failure}"[:500], True


@step("notify.attempt")
async def attempt(ctx: StepContext, delivery_id: str) -> dict[str, Any]:
    """One try. Returns {"done": True} when delivered or given up, else {"wait": seconds}."""
    settings = ctx.settings
    started = time.monotonic()
    outcome = await _send(ctx, delivery_id)
    if outcome is None:
        return {"done": True}
    code, error, retry = outcome
    async with ctx.database.session() as session:
        delivery = await NotifyRepository(session).delivery(uuid.UUID(delivery_id))
        if delivery is None or delivery.status != "pending":
            return {"done": True}
        return _record(delivery, settings, code=code, error=error, retry=retry, started=started)


def _record(
    delivery: NotificationDelivery,
    settings: Settings,
    *,
    code: int | None,
    error: str | None,
    retry: bool,
    started: float,
) -> dict[str, Any]:
    now = utc_now()
    delivery.attempts += 1
    delivery.response_code = code
    delivery.error = error
    entry = {
        "at": iso(now),
        "response_code": code,
        "error": error,
        "ms": round((time.monotonic() - started) * 1000),
    }
    delivery.attempts_log = [*delivery.attempts_log, entry][-MAX_LOGGED_ATTEMPTS:]
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = now
        return {"done": True}
    if not retry or delivery.attempts >= settings.notify_max_attempts:
        delivery.status = "failed"
        log.warning(
            "notification not delivered",
            extra={"delivery_id": str(delivery.id), "event": delivery.event, "error": error},
        )
        return {"done": True}
    return {"wait": backoff(settings, delivery.attempts)}


@DBOS.workflow(name=WORKFLOW)
async def deliver(delivery_id: str) -> dict[str, Any]:
    ctx = workflow_context()
    for _ in range(1000):  # bounded; the attempt limit ends it far earlier
        outcome = await attempt(ctx, delivery_id)
        if outcome.get("done"):
            return {"delivery_id": delivery_id}
        await DBOS.sleep_async(float(outcome["wait"]))
    return {"delivery_id": delivery_id}


async def start(delivery_ids: Sequence[uuid.UUID]) -> None:
    """Hand deliveries to the engine (a no-op for one already there). Inside a workflow step,
    or in a process that runs no workflows, the engine's client enqueues them."""
    for delivery_id in delivery_ids:
        workflow_id = str(delivery_id)
        try:
            if engine.is_launched() and DBOS.workflow_id is None:
                queue = await DBOS.retrieve_queue_async(QUEUE)
                if queue is None:
                    raise RuntimeError(f"queue {QUEUE} is not registered")
                with SetWorkflowID(workflow_id):
                    await queue.enqueue_async(deliver, workflow_id)
            else:
                await engine.enqueue_from_outside(
                    workflow_name=WORKFLOW,
                    queue_name=QUEUE,
                    workflow_id=workflow_id,
                    args=(workflow_id,),
                )
        except Exception:  # the sweep hands it over later
            log.warning("could not start a delivery", extra={"delivery_id": workflow_id})


async def sweep(database: Any, *, older_than: float = 5.0) -> int:
    """Start pending deliveries whose workflow never started (a process died in between)."""
    before = utc_now() - dt.timedelta(seconds=older_than)
    async with database.session() as session:
        stale = await NotifyRepository(session).stale_pending(before)
    missing = [
        delivery_id
        for delivery_id in stale
        if await DBOS.get_workflow_status_async(str(delivery_id)) is None
    ]
    await start(missing)
    return len(missing)
