"""Things about a redirect domain that someone should hear of: the audit log, the log, and
the notifications (webhooks, e-mail) configured for the event."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.models import RedirectDomain
from stellwerk.notify.service import notifier

log = logging.getLogger(__name__)


async def target_started_failing(
    session: AsyncSession, domain: RedirectDomain, check: dict[str, Any]
) -> None:
    """The domain's target answered badly (or not at all) where it answered well before."""
    await audit.record(
        session,
        Actor.system(),
        "redirect_domain.target_failing",
        target_type="redirect_domain",
        target_id=domain.id,
        detail={
            "domain": domain.domain,
            "target_url": domain.target_url,
            "owner_id": domain.owner_id,
            "final_status": check.get("final_status"),
            "error": check.get("error"),
        },
    )
    log.warning(
        "redirect target failing",
        extra={"domain": domain.domain, "target_url": domain.target_url},
    )


async def target_recovered(session: AsyncSession, domain: RedirectDomain) -> None:
    await audit.record(
        session,
        Actor.system(),
        "redirect_domain.target_recovered",
        target_type="redirect_domain",
        target_id=domain.id,
        detail={"domain": domain.domain, "target_url": domain.target_url},
    )


async def verification(
    session: AsyncSession, domain: RedirectDomain, *, ok: bool, before: str
) -> None:
    """`redirect_domain.verified` when a check finds the records and the domain becomes (or
    stays) active after not being so; `redirect_domain.verification_failed` when a check does
    not find them: announced on each failed check asked for, and once when an active domain's
    records go away."""
    if ok and before == "active":
        return
    if not ok and before == "dns_error" and domain.status == "dns_error":
        return
    event = "redirect_domain.verified" if ok else "redirect_domain.verification_failed"
    await notifier.emit(
        session,
        event,
        {
            "domain_id": domain.id,
            "domain": domain.domain,
            "status_before": before,
            "status": domain.status,
            "message": domain.dns_message,
            "owner_id": domain.owner_id,
            "summary": (
                f"Redirect domain {domain.domain} verified"
                if ok
                else f"Redirect domain {domain.domain} failed verification: {domain.dns_message}"
            )[:200],
        },
    )
