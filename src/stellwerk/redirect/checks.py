"""Target checks: where a domain's target leads, and whether it still works.

A check follows the target's redirects hop by hop (at most `MAX_HOPS`, each hop through the SSRF
guard, certificates verified; loopback and private addresses only with
`STELLWERK_REDIRECT_TARGET_CHECK_PRIVATE`) and records the chain length, loops, the final status
and the certificate's expiry on the domain. A target is `failing` when the walk ends in an
error, a loop or a status of 400 or more. The change from working to failing (and back) is an
event (`redirect.events`). The periodic job checks every domain once per
`STELLWERK_REDIRECT_TARGET_CHECK_SECONDS` (a day by default; 0 turns it off).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.kit.netguard import Trace, trace_redirects
from stellwerk.kit.time import as_utc, utc_now
from stellwerk.models import RedirectDomain
from stellwerk.redirect import events
from stellwerk.redirect.repository import DomainRepository

log = logging.getLogger(__name__)

MAX_HOPS = 10
TIMEOUT_SECONDS = 10.0
BATCH = 20  # domains per run of the periodic job
PARALLEL = 4
OK, FAILING = "ok", "failing"


def summarize(trace: Trace) -> dict[str, Any]:
    """What is stored (and shown) of a trace."""
    final = trace.final
    return {
        "ok": trace.error is None and not trace.loop and final is not None and final.status < 400,
        "chain_length": trace.redirects,
        "loop": trace.loop,
        "final_url": final.url if final else None,
        "final_status": final.status if final else None,
        "cert_expires_at": int(trace.cert_expires_at * 1000) if trace.cert_expires_at else None,
        "error": trace.error,
        "hops": [{"url": hop.url, "status": hop.status} for hop in trace.hops],
    }


class CheckService:
    ca_pem: str | None = None  # extra trusted CA (tests with their own TLS server)

    async def trace(self, target_url: str, settings: Settings) -> dict[str, Any]:
        """Follow the target now (network only, no database)."""
        trace = await trace_redirects(
            target_url,
            max_hops=MAX_HOPS,
            timeout=TIMEOUT_SECONDS,
            ca_pem=self.ca_pem,
            allow_private=settings.redirect_target_check_private,
        )
        return summarize(trace)

    async def record(
        self, session: AsyncSession, domain: RedirectDomain, result: dict[str, Any]
    ) -> None:
        """Store a check's result on the domain; a change of state is an event."""
        now = utc_now()
        status = OK if result["ok"] else FAILING
        before = domain.target_status
        domain.target_check = result
        domain.target_checked_at = now
        domain.target_status = status
        if status == FAILING and before != FAILING:
            domain.target_failing_since = now
            await events.target_started_failing(session, domain, result)
        elif status == OK and before == FAILING:
            domain.target_failing_since = None
            await events.target_recovered(session, domain)
        await session.flush()

    async def check(
        self, session: AsyncSession, domain: RedirectDomain, settings: Settings
    ) -> dict[str, Any]:
        """Check one domain now (on demand) and store the result."""
        result = await self.trace(domain.target_url, settings)
        await self.record(session, domain, result)
        return result

    async def run_due(self, database: Database, settings: Settings) -> int:
        """The periodic job: check the domains not checked for the configured interval."""
        interval = settings.redirect_target_check_seconds
        if interval <= 0:
            return 0
        now = utc_now()
        async with database.session() as session:
            repository = DomainRepository(session)
            ids = await repository.due_for_check(now - dt.timedelta(seconds=interval), limit=BATCH)
            targets: dict[int, str] = {}
            for domain_id in ids:
                record = await repository.get(domain_id)
                if record is None:
                    continue
                # Claimed: other worker processes skip it until the next interval.
                record.target_checked_at = now
                targets[domain_id] = record.target_url
        if not targets:
            return 0
        gate = asyncio.Semaphore(PARALLEL)

        async def one(domain_id: int, target_url: str) -> None:
            async with gate:
                result = await self.trace(target_url, settings)
            async with database.session() as session:
                record = await DomainRepository(session).get(domain_id)
                if record is None or record.target_url != target_url:
                    return  # deleted or changed meanwhile: checked again later
                await self.record(session, record, result)

        outcomes = await asyncio.gather(
            *(one(i, url) for i, url in targets.items()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                log.error("target check failed", exc_info=outcome)
        return len(targets)

    def expires_soon(self, domain: RedirectDomain, *, days: int = 14) -> bool:
        check = domain.target_check or {}
        expires = check.get("cert_expires_at")
        if not expires or domain.target_checked_at is None:
            return False
        left = float(expires) / 1000 - as_utc(domain.target_checked_at).timestamp()
        return left < days * 86_400


checks = CheckService()
