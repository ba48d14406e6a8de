"""Things about a redirect domain that someone should hear of.

Today they go to the audit log (and the log); notifications will be sent from here, so callers
do not change when they exist.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.models import RedirectDomain

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
